// VolunteerViewModel.kt — what the volunteer's screen shows (balance, assignments, visits, sync status)
// and what its buttons do; reloads whenever the store says a topic changed.
package org.timebank.android.app

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.flow.filterNotNull
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.timebank.android.SyncStatus
import org.timebank.android.TimebankPhone
import org.timebank.android.app.sync.SyncWorker
import org.timebank.mobile.Assignment
import org.timebank.mobile.AssignmentResponse
import org.timebank.mobile.Balance
import org.timebank.mobile.Role
import org.timebank.mobile.Service
import org.timebank.mobile.TimebankException
import org.timebank.mobile.Visit
import org.timebank.mobile.VisitState

/** Everything on the volunteer's screen. */
data class VolunteerUiState(
    val loading: Boolean = true,
    val enrolled: Boolean = false,
    val balance: Balance? = null,
    val assignments: List<Assignment> = emptyList(),
    /** Newest first. */
    val visits: List<Visit> = emptyList(),
    /** The visit the volunteer is checked in at, if any. */
    val openVisit: Visit? = null,
    val services: Map<String, Service> = emptyMap(),
    val sync: SyncStatus = SyncStatus.Offline,
    /** Whether this is an elder's or a family proxy's phone, which co-signs visits (ADR 29). */
    val cosigner: Boolean = false,
    /** The last error, until dismissed. */
    val error: TimebankException? = null,
    val busy: Boolean = false,
)

class VolunteerViewModel(application: Application) : AndroidViewModel(application) {
    private val app = application as TimebankApplication
    private val state = MutableStateFlow(VolunteerUiState())
    val ui: StateFlow<VolunteerUiState> = state.asStateFlow()

    private var phone: TimebankPhone? = null

    /** The enrolled phone, once opened (the live channel waits for it). */
    private val opened = MutableStateFlow<TimebankPhone?>(null)

    init {
        viewModelScope.launch {
            val opened = app.phone()
            if (opened == null) state.update { it.copy(loading = false, enrolled = false) } else follow(opened)
        }
    }

    private fun follow(opened: TimebankPhone) {
        phone = opened
        this.opened.value = opened
        state.update { it.copy(enrolled = true) }
        // The flow starts with every topic, so this also loads the screen the first time.
        viewModelScope.launch { opened.changes().conflate().collect { reload(opened) } }
        app.scheduler?.let { scheduler ->
            viewModelScope.launch { scheduler.status.collect { sync -> state.update { it.copy(sync = sync) } } }
        }
    }

    private suspend fun reload(phone: TimebankPhone) {
        val loaded = phone.call { store ->
            val visits = store.visits().reversed()
            VolunteerUiState(
                loading = false,
                enrolled = true,
                balance = store.balance(),
                assignments = store.assignments().filter { it.response != AssignmentResponse.DECLINED },
                visits = visits,
                openVisit = visits.firstOrNull { it.state == VisitState.CheckedIn },
                services = store.catalogue().associateBy { it.id },
                cosigner = store.identity().role in setOf(Role.ELDER, Role.FAMILY_PROXY),
            )
        }
        state.update { loaded.copy(sync = it.sync, error = it.error, busy = it.busy) }
    }

    /** Runs a button's action off the UI thread; its error, if any, is shown until dismissed. */
    private fun launchAction(action: suspend () -> Unit) {
        viewModelScope.launch {
            state.update { it.copy(busy = true, error = null) }
            try {
                action()
            } catch (error: TimebankException) {
                state.update { it.copy(error = error) }
            } finally {
                state.update { it.copy(busy = false) }
            }
        }
    }

    /** An action on the enrolled phone's store. */
    private fun act(action: suspend (TimebankPhone) -> Unit) {
        val current = phone ?: return
        launchAction { action(current) }
    }

    fun enroll(relay: String, code: String) = launchAction { follow(app.enroll(relay.trim(), code.trim().uppercase())) }

    fun accept(assignment: Assignment) = act { phone -> phone.call { it.accept(assignment.order) } }

    fun checkIn(assignment: Assignment) = act { phone ->
        phone.call { it.checkIn(assignment.elder, assignment.service, assignment.order, null) }
    }

    fun checkOut(visit: Visit) = act { phone ->
        phone.call { it.checkOut(visit.id, null, null) }
        // Send it as soon as there is a network, even if the app is closed by then.
        app.scheduler?.requestSync()
        SyncWorker.syncWhenOnline(app)
    }

    /**
     * Holds the relay's live channel while the screen is visible (MainActivity calls it under
     * `repeatOnLifecycle(STARTED)`): the phone syncs on each of the relay's hints, so a dispatch
     * shows within a second through [TimebankPhone.changes]. When the app is not visible, the
     * scheduler and [SyncWorker] sync on their own schedule. A revoked phone's watch ends with
     * the relay's words on the screen.
     */
    suspend fun watchWhileVisible() {
        val current = opened.filterNotNull().first()
        try {
            current.watch().collect { }
        } catch (error: TimebankException) {
            state.update { it.copy(error = error) }
        }
    }

    /** Checks in with the link read from the elder's card (the relay verifies it). */
    fun checkInWithCard(assignment: Assignment, link: String) = act { phone ->
        phone.call { it.checkInTapped(assignment.elder, assignment.service, assignment.order, null, link) }
    }

    /** Checks out with the link read from the elder's card. */
    fun checkOutWithCard(visit: Visit, link: String) = act { phone ->
        phone.call { it.checkOutTapped(visit.id, null, null, link) }
        app.scheduler?.requestSync()
        SyncWorker.syncWhenOnline(app)
    }

    /** The text of [visit]'s QR code for the elder's phone to co-sign. */
    suspend fun summaryOf(visit: Visit): String? = phone?.call { it.visitSummary(visit.id) }

    /** Stores the co-signature scanned back from the elder's phone. */
    fun attachSignature(visit: Visit, signature: String) = act { phone ->
        phone.call { it.attachCosignature(visit.id, signature) }
        app.scheduler?.requestSync()
    }

    /** On the elder's or family's phone: co-signs a volunteer's visit summary. */
    suspend fun cosign(summary: String): String = phone?.call { it.cosignVisit(summary) } ?: ""

    fun syncNow() {
        app.scheduler?.requestSync()
    }

    fun dismissError() = state.update { it.copy(error = null) }
}
