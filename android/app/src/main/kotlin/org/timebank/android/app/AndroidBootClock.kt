// AndroidBootClock.kt — lends the engine Android's own monotonic clock, so a live visit's length survives
// a changed wall clock and the app being killed mid-visit (ADR 3): elapsedRealtime and the boot count.
package org.timebank.android.app

import android.content.ContentResolver
import android.os.SystemClock
import android.provider.Settings
import org.timebank.mobile.PlatformClock

class AndroidBootClock(private val resolver: ContentResolver) : PlatformClock {
    private val bootCount: Int get() = Settings.Global.getInt(resolver, Settings.Global.BOOT_COUNT, -1)

    /** Milliseconds since boot, counting deep sleep; none if this boot cannot be told from the last. */
    override fun sinceBootMs(): ULong? = if (bootCount < 0) null else SystemClock.elapsedRealtime().toULong()

    override fun bootId(): String = "android-boot-$bootCount"
}
