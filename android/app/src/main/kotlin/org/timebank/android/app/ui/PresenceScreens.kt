// PresenceScreens.kt — proof of presence on the phone (ADR 29), in large, simple prompts: "hold the
// phone to the elder's card" at check-in and check-out (with a way to go on without a card), the
// visit's QR code for the elder's phone to sign and the scanner for its answer, and, on the elder's
// or family's phone, the scanner and the co-signature's QR code.
package org.timebank.android.app.ui

import android.app.Activity
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.unit.dp
import org.timebank.android.app.R
import org.timebank.android.app.presence.TagProblem
import org.timebank.android.app.presence.TagRead
import org.timebank.android.app.presence.qrBitmap
import org.timebank.android.app.presence.readTag
import org.timebank.android.app.presence.rememberQrScanner

/** "请把手机靠近老人家的卡片": waits for the card, then hands its link to [onLink]. */
@Composable
fun TapCardScreen(checkingOut: Boolean, onLink: (String) -> Unit, onWithoutCard: () -> Unit, onCancel: () -> Unit) {
    val activity = LocalContext.current as Activity
    var problem by remember { mutableStateOf<TagProblem?>(null) }
    LaunchedEffect(Unit) {
        when (val read = readTag(activity)) {
            is TagRead.Link -> onLink(read.url)
            is TagRead.Failed -> problem = read.problem
        }
    }
    Column(
        Modifier.fillMaxSize().padding(24.dp),
        verticalArrangement = Arrangement.spacedBy(24.dp, Alignment.CenterVertically),
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Text(
            stringResource(if (checkingOut) R.string.tap_card_leaving else R.string.tap_card_arriving),
            style = MaterialTheme.typography.headlineLarge,
            textAlign = TextAlign.Center,
        )
        Text(stringResource(R.string.tap_card_hint), style = MaterialTheme.typography.titleLarge, textAlign = TextAlign.Center)
        problem?.let {
            val words = when (it) {
                TagProblem.NoNfc -> R.string.tap_no_nfc
                TagProblem.NfcOff -> R.string.tap_nfc_off
                TagProblem.NotATimebankCard -> R.string.tap_not_our_card
            }
            Text(stringResource(words), style = MaterialTheme.typography.titleLarge, color = MaterialTheme.colorScheme.error)
        }
        BigButton(stringResource(R.string.tap_without_card), onClick = onWithoutCard)
        BigButton(stringResource(R.string.cancel), onClick = onCancel, color = MaterialTheme.colorScheme.secondary)
    }
}

/** The volunteer's phone: the visit's QR code for the elder's phone, then the scanner for the signature. */
@Composable
fun ShowVisitForSigningScreen(summary: String, onSignature: (String) -> Unit, onDone: () -> Unit) {
    val scan = rememberQrScanner(stringResource(R.string.scan_signature_prompt), onSignature)
    val code = remember(summary) { qrBitmap(summary).asImageBitmap() }
    Column(Modifier.fillMaxSize().padding(24.dp), verticalArrangement = Arrangement.spacedBy(16.dp), horizontalAlignment = Alignment.CenterHorizontally) {
        Text(stringResource(R.string.show_to_elder), style = MaterialTheme.typography.headlineMedium, textAlign = TextAlign.Center)
        Image(code, contentDescription = stringResource(R.string.show_to_elder), modifier = Modifier.fillMaxWidth())
        BigButton(stringResource(R.string.scan_signature), onClick = scan)
        BigButton(stringResource(R.string.cancel), onClick = onDone, color = MaterialTheme.colorScheme.secondary)
    }
}

/** The elder's (or family's) phone: scan the volunteer's code, sign, show the signature back. */
@Composable
fun CosignScreen(cosign: suspend (String) -> String, onDone: () -> Unit) {
    var signature by remember { mutableStateOf<String?>(null) }
    var summary by remember { mutableStateOf<String?>(null) }
    val scan = rememberQrScanner(stringResource(R.string.scan_visit_prompt)) { summary = it }
    LaunchedEffect(summary) { summary?.let { signature = cosign(it) } }
    Column(Modifier.fillMaxSize().padding(24.dp), verticalArrangement = Arrangement.spacedBy(16.dp), horizontalAlignment = Alignment.CenterHorizontally) {
        val signed = signature
        if (signed == null) {
            Text(stringResource(R.string.scan_visit_prompt), style = MaterialTheme.typography.headlineMedium, textAlign = TextAlign.Center)
            BigButton(stringResource(R.string.scan_visit), onClick = scan)
        } else {
            Text(stringResource(R.string.show_signature), style = MaterialTheme.typography.headlineMedium, textAlign = TextAlign.Center)
            Image(qrBitmap(signed).asImageBitmap(), contentDescription = stringResource(R.string.show_signature), modifier = Modifier.fillMaxWidth())
        }
        BigButton(stringResource(R.string.done), onClick = onDone, color = MaterialTheme.colorScheme.secondary)
    }
}
