// VisitStateText.kt — a visit's state in the phone's language, with a colour that matches its meaning.
package org.timebank.android.app.ui

import androidx.compose.runtime.Composable
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.res.stringResource
import org.timebank.android.SyncStatus
import org.timebank.android.app.R
import org.timebank.mobile.VisitState

/** "saved on phone" 已保存在手机, "sent" 已发送, "approved" 已批准, "rejected: reason" ... */
@Composable
fun visitStateText(state: VisitState): String = when (state) {
    VisitState.CheckedIn -> stringResource(R.string.state_checked_in)
    VisitState.SavedOnPhone -> stringResource(R.string.state_saved_on_phone)
    VisitState.Sent -> stringResource(R.string.state_sent)
    is VisitState.UnderReview -> stringResource(R.string.state_under_review, state.reason)
    VisitState.Approved -> stringResource(R.string.state_approved)
    is VisitState.Rejected -> stringResource(R.string.state_rejected, state.reason)
}

fun visitStateColor(state: VisitState): Color = when (state) {
    VisitState.CheckedIn -> Color(0xFF0B5394)
    VisitState.SavedOnPhone -> Color(0xFF7F6000)
    VisitState.Sent -> Color(0xFF444444)
    is VisitState.UnderReview -> Color(0xFF7F6000)
    VisitState.Approved -> Color(0xFF274E13)
    is VisitState.Rejected -> Color(0xFFB00020)
}

/** The sync line at the top of the screen. */
@Composable
fun syncStatusText(status: SyncStatus): String = when (status) {
    SyncStatus.Offline -> stringResource(R.string.sync_offline)
    SyncStatus.Syncing -> stringResource(R.string.sync_syncing)
    is SyncStatus.Synced -> stringResource(R.string.sync_synced)
    is SyncStatus.Retrying -> stringResource(R.string.sync_retrying)
}
