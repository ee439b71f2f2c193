// TimebankApplication.kt — the app process: one store for the phone, the foreground sync scheduler fed
// by the network callback, and WorkManager for syncs while the app is closed.
package org.timebank.android.app

import android.app.Application
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.launch
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import org.timebank.android.SyncScheduler
import org.timebank.android.TimebankPhone
import org.timebank.android.app.sync.NetworkConnectivity
import org.timebank.android.app.sync.SyncWorker
import org.timebank.mobile.TimebankException
import java.io.File

class TimebankApplication : Application() {
    /** Lives as long as the process: the scheduler and the store's syncs run here. */
    val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    private val opening = Mutex()
    private var opened: TimebankPhone? = null
    private var schedulerJob: Job? = null

    lateinit var connectivity: NetworkConnectivity
        private set

    /** Syncs while the app runs; null until the phone is enrolled. */
    var scheduler: SyncScheduler? = null
        private set

    /** Measures live visits (elapsedRealtime, boot count). */
    private val clock by lazy { AndroidBootClock(contentResolver) }

    /** The store's directory, private to the app (and left out of backups: it holds the device's token). */
    private val storeDir: File get() = File(noBackupFilesDir, "timebank")

    override fun onCreate() {
        super.onCreate()
        connectivity = NetworkConnectivity(this)
    }

    /** The phone's store, or null if this phone is not enrolled yet. */
    suspend fun phone(): TimebankPhone? = opening.withLock {
        opened ?: try {
            TimebankPhone.open(storeDir.path, clock).also { started(it) }
        } catch (notEnrolled: TimebankException.NoStore) {
            null
        }
    }

    /** Enrolls this phone with the code from the station; then syncing starts. */
    suspend fun enroll(relay: String, code: String): TimebankPhone = opening.withLock {
        opened ?: TimebankPhone.enroll(storeDir.path, relay, code, clock).also { started(it) }
    }

    private fun started(phone: TimebankPhone) {
        opened = phone
        val scheduler = SyncScheduler(sync = { phone.sync() }, online = connectivity.online)
        this.scheduler = scheduler
        schedulerJob = appScope.launch { scheduler.run() }
        SyncWorker.schedulePeriodic(this)
    }
}
