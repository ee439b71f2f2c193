// FakeBootClock.kt — the phone's monotonic clock as the app lends it to the engine, moved by the test.
package org.timebank.android

import org.timebank.mobile.PlatformClock

/** Milliseconds since boot that only [advanceMinutes] moves; one boot. */
class FakeBootClock : PlatformClock {
    @Volatile
    private var millis = 3_600_000L

    fun advanceMinutes(minutes: Long) {
        millis += minutes * 60_000
    }

    override fun sinceBootMs(): ULong = millis.toULong()

    override fun bootId(): String = "test-boot-1"
}
