// MainActivity.kt — the one screen: enrollment on first start, then the volunteer's home, with the
// relay's live channel held while it is visible; checking in and out goes through "hold the phone
// to the elder's card" (or on without one, then the elder's phone co-signs by QR code); an elder's
// or family's phone co-signs (ADR 29).
package org.timebank.android.app

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.produceState
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import kotlinx.coroutines.launch
import org.timebank.android.app.ui.CosignScreen
import org.timebank.android.app.ui.EnrollScreen
import org.timebank.android.app.ui.ShowVisitForSigningScreen
import org.timebank.android.app.ui.TapCardScreen
import org.timebank.android.app.ui.TimebankTheme
import org.timebank.android.app.ui.VolunteerScreen
import org.timebank.mobile.Assignment
import org.timebank.mobile.Visit

/** A step of proof of presence the screen is in, if any. */
private sealed class Presence {
    data class CheckIn(val assignment: Assignment) : Presence()
    data class CheckOut(val visit: Visit) : Presence()
    data class Sign(val visit: Visit) : Presence()
    data object Cosign : Presence()
}

class MainActivity : ComponentActivity() {
    private val model: VolunteerViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // Visible: dispatches arrive within a second. Stopped: the channel closes at once.
        lifecycleScope.launch { repeatOnLifecycle(Lifecycle.State.STARTED) { model.watchWhileVisible() } }
        setContent {
            TimebankTheme {
                val ui by model.ui.collectAsStateWithLifecycle()
                var presence by remember { mutableStateOf<Presence?>(null) }
                val step = presence ?: if (ui.cosigner) Presence.Cosign else null
                when {
                    ui.loading && !ui.enrolled -> Unit
                    !ui.enrolled -> EnrollScreen(ui, onEnroll = model::enroll, onDismissError = model::dismissError)
                    step is Presence.CheckIn -> TapCardScreen(
                        checkingOut = false,
                        onLink = { model.checkInWithCard(step.assignment, it); presence = null },
                        onWithoutCard = { model.checkIn(step.assignment); presence = null },
                        onCancel = { presence = null },
                    )
                    step is Presence.CheckOut -> TapCardScreen(
                        checkingOut = true,
                        onLink = { model.checkOutWithCard(step.visit, it); presence = null },
                        onWithoutCard = { model.checkOut(step.visit); presence = Presence.Sign(step.visit) },
                        onCancel = { presence = null },
                    )
                    step is Presence.Sign -> {
                        val summary by produceState<String?>(null, step.visit) { value = model.summaryOf(step.visit) }
                        summary?.let { text ->
                            ShowVisitForSigningScreen(text, onSignature = { model.attachSignature(step.visit, it); presence = null }, onDone = { presence = null })
                        }
                    }
                    step is Presence.Cosign -> CosignScreen(cosign = model::cosign, onDone = { presence = null })
                    else -> VolunteerScreen(
                        ui,
                        onAccept = model::accept,
                        onCheckIn = { presence = Presence.CheckIn(it) },
                        onCheckOut = { presence = Presence.CheckOut(it) },
                        onSyncNow = model::syncNow,
                        onDismissError = model::dismissError,
                    )
                }
            }
        }
    }
}
