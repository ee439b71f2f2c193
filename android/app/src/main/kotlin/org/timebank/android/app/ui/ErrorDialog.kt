// ErrorDialog.kt — an error in the phone's language (what happened, what to do), with the engine's own
// words underneath for the coordinator who helps.
package org.timebank.android.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import org.timebank.android.app.R
import org.timebank.mobile.TimebankException

private fun explanation(error: TimebankException): Int = when (error) {
    is TimebankException.Offline -> R.string.error_offline
    is TimebankException.Cancelled -> R.string.error_offline
    is TimebankException.InvalidInput -> R.string.error_invalid_input
    is TimebankException.NotAllowed -> R.string.error_not_allowed
    is TimebankException.NotFound -> R.string.error_not_found
    is TimebankException.RelayRefused -> R.string.error_relay_refused
    is TimebankException.UpdateRequired, is TimebankException.RelayProtocol -> R.string.error_update_required
    else -> R.string.error_other
}

@Composable
fun ErrorDialog(error: TimebankException, onDismiss: () -> Unit) {
    AlertDialog(
        onDismissRequest = onDismiss,
        confirmButton = { TextButton(onClick = onDismiss) { Text(stringResource(R.string.ok)) } },
        title = { Text(stringResource(R.string.error_title)) },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                Text(stringResource(explanation(error)), style = MaterialTheme.typography.bodyLarge)
                error.message?.let { Text(it, style = MaterialTheme.typography.bodyMedium) }
            }
        },
    )
}
