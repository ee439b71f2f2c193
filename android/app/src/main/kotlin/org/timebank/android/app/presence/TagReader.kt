// TagReader.kt — reads the elder's NFC tag (NTAG 424 DNA) in reader mode: the tag answers each
// read with a fresh SUN link (its NDEF URL), which the app hands to checkInTapped/checkOutTapped
// unread. Works offline; the relay verifies the link later (ADR 29).
package org.timebank.android.app.presence

import android.app.Activity
import android.nfc.NfcAdapter
import android.nfc.Tag
import android.nfc.tech.Ndef
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlin.coroutines.resume

/** Why no link was read. */
sealed class TagProblem {
    /** The phone has no NFC. */
    data object NoNfc : TagProblem()
    /** NFC is switched off in the settings. */
    data object NfcOff : TagProblem()
    /** The card held to the phone carries no link (not the station's card). */
    data object NotATimebankCard : TagProblem()
}

/** A link read from the card, or why none was. */
sealed class TagRead {
    data class Link(val url: String) : TagRead()
    data class Failed(val problem: TagProblem) : TagRead()
}

/**
 * Waits until a card is held to the phone and returns its link. Reader mode keeps other apps
 * (and the system's own NDEF handling) from taking the tap; the read that Android makes to fill
 * `cachedNdefMessage` is the one read the tag counts. Cancelling the coroutine stops listening.
 */
suspend fun readTag(activity: Activity): TagRead {
    val adapter = NfcAdapter.getDefaultAdapter(activity) ?: return TagRead.Failed(TagProblem.NoNfc)
    if (!adapter.isEnabled) return TagRead.Failed(TagProblem.NfcOff)
    return suspendCancellableCoroutine { continuation ->
        val flags = NfcAdapter.FLAG_READER_NFC_A or NfcAdapter.FLAG_READER_NO_PLATFORM_SOUNDS
        adapter.enableReaderMode(activity, { tag: Tag ->
            val url = Ndef.get(tag)?.cachedNdefMessage?.records?.firstNotNullOfOrNull { it.toUri() }?.toString()
            adapter.disableReaderMode(activity)
            if (continuation.isActive) {
                continuation.resume(if (url != null) TagRead.Link(url) else TagRead.Failed(TagProblem.NotATimebankCard))
            }
        }, flags, null)
        continuation.invokeOnCancellation { activity.runOnUiThread { adapter.disableReaderMode(activity) } }
    }
}
