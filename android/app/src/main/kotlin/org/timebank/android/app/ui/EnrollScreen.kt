// EnrollScreen.kt — first start: the station's relay address and the one-time code from the coordinator.
package org.timebank.android.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import org.timebank.android.app.R
import org.timebank.android.app.VolunteerUiState

@Composable
fun EnrollScreen(ui: VolunteerUiState, onEnroll: (relay: String, code: String) -> Unit, onDismissError: () -> Unit) {
    var relay by rememberSaveable { mutableStateOf("https://") }
    var code by rememberSaveable { mutableStateOf("") }
    Column(
        modifier = Modifier.fillMaxSize().padding(16.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp),
    ) {
        Text(stringResource(R.string.enroll_title), style = MaterialTheme.typography.headlineMedium)
        Text(stringResource(R.string.enroll_explain), style = MaterialTheme.typography.bodyLarge)
        OutlinedTextField(
            value = relay,
            onValueChange = { relay = it },
            label = { Text(stringResource(R.string.enroll_relay)) },
            textStyle = MaterialTheme.typography.bodyLarge,
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
        )
        OutlinedTextField(
            value = code,
            onValueChange = { code = it },
            label = { Text(stringResource(R.string.enroll_code)) },
            textStyle = MaterialTheme.typography.headlineMedium,
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
        )
        BigButton(
            stringResource(R.string.enroll_button),
            onClick = { onEnroll(relay, code) },
            enabled = !ui.busy && code.isNotBlank() && relay.length > "https://".length,
        )
    }
    ui.error?.let { error -> ErrorDialog(error, onDismissError) }
}
