// QrCodes.kt — the offline exchange between the volunteer's phone and the elder's (or family's):
// a QR code drawn from text (the visit summary one way, the co-signature back) and the camera
// scanner that reads one, with ZXing (zxing-android-embedded, no Google services needed).
package org.timebank.android.app.presence

import android.graphics.Bitmap
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.compose.runtime.Composable
import com.google.zxing.BarcodeFormat
import com.journeyapps.barcodescanner.BarcodeEncoder
import com.journeyapps.barcodescanner.ScanContract
import com.journeyapps.barcodescanner.ScanOptions

/** The QR code of [text], [size] pixels square, for the other phone's camera. */
fun qrBitmap(text: String, size: Int = 720): Bitmap = BarcodeEncoder().encodeBitmap(text, BarcodeFormat.QR_CODE, size, size)

/** A launcher that opens the camera and hands the text of the QR code it reads to [onText]. */
@Composable
fun rememberQrScanner(prompt: String, onText: (String) -> Unit): () -> Unit {
    val launcher = rememberLauncherForActivityResult(ScanContract()) { result -> result.contents?.let(onText) }
    return {
        launcher.launch(
            ScanOptions()
                .setDesiredBarcodeFormats(ScanOptions.QR_CODE)
                .setPrompt(prompt)
                .setBeepEnabled(false)
                .setOrientationLocked(false),
        )
    }
}
