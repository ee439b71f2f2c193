// VolunteerScreen.kt — the volunteer's home: sync line, balance, the visit in progress with a big
// check-out button, assignments with accept / check-in buttons, and the visit list with states.
package org.timebank.android.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.intl.Locale
import androidx.compose.ui.unit.dp
import org.timebank.android.app.R
import org.timebank.android.app.VolunteerUiState
import org.timebank.mobile.Assignment
import org.timebank.mobile.AssignmentResponse
import org.timebank.mobile.Balance
import org.timebank.mobile.Service
import org.timebank.mobile.Visit
import java.time.ZoneId
import java.time.format.DateTimeFormatter

private val time = DateTimeFormatter.ofPattern("MM-dd HH:mm").withZone(ZoneId.systemDefault())

/** A service's name in the phone's language (Chinese unless the phone is set to English). */
private fun Map<String, Service>.nameOf(id: String): String {
    val service = this[id] ?: return id
    return if (Locale.current.language == "en") service.nameEn else service.nameZh
}

@Composable
fun VolunteerScreen(
    ui: VolunteerUiState,
    onAccept: (Assignment) -> Unit,
    onCheckIn: (Assignment) -> Unit,
    onCheckOut: (Visit) -> Unit,
    onSyncNow: () -> Unit,
    onDismissError: () -> Unit,
) {
    LazyColumn(
        modifier = Modifier.fillMaxSize().padding(16.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp),
    ) {
        item { SyncLine(ui, onSyncNow) }
        ui.balance?.let { balance -> item { BalanceCard(balance) } }
        ui.openVisit?.let { open -> item { OpenVisitCard(open, ui, onCheckOut) } }
        item { Text(stringResource(R.string.my_assignments), style = MaterialTheme.typography.titleLarge) }
        if (ui.assignments.isEmpty()) {
            item { Text(stringResource(R.string.no_assignments), style = MaterialTheme.typography.bodyLarge) }
        }
        items(ui.assignments, key = { it.order }) { assignment ->
            AssignmentCard(assignment, ui, onAccept, onCheckIn)
        }
        item { Text(stringResource(R.string.my_visits), style = MaterialTheme.typography.titleLarge) }
        if (ui.visits.isEmpty()) {
            item { Text(stringResource(R.string.no_visits), style = MaterialTheme.typography.bodyLarge) }
        }
        items(ui.visits, key = { it.id }) { visit -> VisitRow(visit, ui) }
    }
    ui.error?.let { error -> ErrorDialog(error, onDismissError) }
}

@Composable
private fun SyncLine(ui: VolunteerUiState, onSyncNow: () -> Unit) {
    Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text(syncStatusText(ui.sync), style = MaterialTheme.typography.bodyLarge)
        BigButton(stringResource(R.string.sync_now), onSyncNow, enabled = !ui.busy)
    }
}

@Composable
private fun BalanceCard(balance: Balance) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp)) {
            Text(stringResource(R.string.balance_title), style = MaterialTheme.typography.titleLarge)
            Text(
                stringResource(R.string.balance_coins, balance.availableMinutes / 60.0),
                style = MaterialTheme.typography.headlineMedium,
            )
            if (balance.pendingMinutes > 0) {
                Text(
                    stringResource(R.string.balance_pending, balance.pendingMinutes / 60.0),
                    style = MaterialTheme.typography.bodyMedium,
                )
            }
        }
    }
}

@Composable
private fun OpenVisitCard(visit: Visit, ui: VolunteerUiState, onCheckOut: (Visit) -> Unit) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            Text(
                stringResource(R.string.checked_in_since, visit.elderName ?: ui.services.nameOf(visit.service), time.format(visit.checkIn)),
                style = MaterialTheme.typography.titleLarge,
            )
            BigButton(
                stringResource(R.string.check_out),
                onClick = { onCheckOut(visit) },
                enabled = !ui.busy,
                color = MaterialTheme.colorScheme.secondary,
            )
        }
    }
}

@Composable
private fun AssignmentCard(
    assignment: Assignment,
    ui: VolunteerUiState,
    onAccept: (Assignment) -> Unit,
    onCheckIn: (Assignment) -> Unit,
) {
    Card(modifier = Modifier.fillMaxWidth()) {
        Column(modifier = Modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
            // Who to visit, by name when the dispatch carried it (older dispatches: the service).
            val elderName = assignment.elderName
            Text(elderName ?: ui.services.nameOf(assignment.service), style = MaterialTheme.typography.titleLarge)
            if (elderName != null) Text(ui.services.nameOf(assignment.service), style = MaterialTheme.typography.bodyLarge)
            if (assignment.note.isNotBlank()) Text(assignment.note, style = MaterialTheme.typography.bodyLarge)
            when {
                assignment.response == null ->
                    BigButton(stringResource(R.string.accept), onClick = { onAccept(assignment) }, enabled = !ui.busy)
                ui.openVisit == null && assignment.response == AssignmentResponse.ACCEPTED ->
                    BigButton(stringResource(R.string.check_in), onClick = { onCheckIn(assignment) }, enabled = !ui.busy)
                else -> Unit
            }
        }
    }
}

@Composable
private fun VisitRow(visit: Visit, ui: VolunteerUiState) {
    Column(modifier = Modifier.fillMaxWidth()) {
        Text(
            stringResource(R.string.visit_line, time.format(visit.checkIn), ui.services.nameOf(visit.service), (visit.minutes ?: 0u).toInt()),
            style = MaterialTheme.typography.bodyLarge,
        )
        Text(visitStateText(visit.state), color = visitStateColor(visit.state), style = MaterialTheme.typography.bodyLarge)
    }
}
