// SyncWorker.kt — the sync WorkManager runs while the app is closed: periodically and whenever the
// network returns, with WorkManager's own exponential backoff after a failure (Android only).
package org.timebank.android.app.sync

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import org.timebank.android.app.TimebankApplication
import org.timebank.mobile.TimebankException
import java.util.concurrent.TimeUnit

/** One sync of the phone's store; retried later when the relay cannot be reached. */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val phone = (applicationContext as TimebankApplication).phone() ?: return Result.success() // not enrolled yet
        return try {
            phone.sync()
            Result.success()
        } catch (offline: TimebankException.Offline) {
            Result.retry() // everything stays saved on the phone
        } catch (refused: TimebankException.RelayRefused) {
            Result.failure() // a revoked device: retrying will not help; the app shows why
        } catch (other: TimebankException) {
            Result.retry() // the relay's answer, the disk: try again later; nothing is lost
        }
    }

    companion object {
        private const val PERIODIC = "timebank-sync-periodic"
        private const val NOW = "timebank-sync-now"

        private val needsNetwork = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        /** Every hour while a network is there; WorkManager waits for one and backs off on failure. */
        fun schedulePeriodic(context: Context) {
            val request = PeriodicWorkRequestBuilder<SyncWorker>(1, TimeUnit.HOURS)
                .setConstraints(needsNetwork)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context).enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, request)
        }

        /** Once, as soon as a network is there (after a visit is saved while the app goes to the background). */
        fun syncWhenOnline(context: Context) {
            val request = OneTimeWorkRequestBuilder<SyncWorker>()
                .setConstraints(needsNetwork)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context).enqueueUniqueWork(NOW, ExistingWorkPolicy.REPLACE, request)
        }
    }
}
