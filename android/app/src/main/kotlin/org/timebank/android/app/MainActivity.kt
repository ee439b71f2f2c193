// MainActivity.kt — the one screen: enrollment on first start, then the volunteer's home, with the
// relay's live channel held while it is visible.
package org.timebank.android.app

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.runtime.getValue
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import kotlinx.coroutines.launch
import org.timebank.android.app.ui.EnrollScreen
import org.timebank.android.app.ui.TimebankTheme
import org.timebank.android.app.ui.VolunteerScreen

class MainActivity : ComponentActivity() {
    private val model: VolunteerViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        // Visible: dispatches arrive within a second. Stopped: the channel closes at once.
        lifecycleScope.launch { repeatOnLifecycle(Lifecycle.State.STARTED) { model.watchWhileVisible() } }
        setContent {
            TimebankTheme {
                val ui by model.ui.collectAsStateWithLifecycle()
                when {
                    ui.loading && !ui.enrolled -> Unit
                    !ui.enrolled -> EnrollScreen(ui, onEnroll = model::enroll, onDismissError = model::dismissError)
                    else -> VolunteerScreen(
                        ui,
                        onAccept = model::accept,
                        onCheckIn = model::checkIn,
                        onCheckOut = model::checkOut,
                        onSyncNow = model::syncNow,
                        onDismissError = model::dismissError,
                    )
                }
            }
        }
    }
}
