// Proof of presence on the phone (ADR 29), in large, simple prompts: "hold the phone to the
// elder's card" at check-in and check-out with Core NFC, and the offline QR exchange with the
// elder's (or family's) phone: the visit's code shown for signing, the camera reading the
// signature back, and on the elder's phone the scanner and the signature's code.
import AVFoundation
import CoreImage.CIFilterBuiltins
import CoreNFC
import SwiftUI

/// Reads the link (NDEF URL) of the elder's card once. Each read makes the NTAG 424 DNA
/// answer with a fresh SUN link, which the app hands to `checkInTapped`/`checkOutTapped`
/// unread; the relay verifies it later.
final class CardReader: NSObject, NFCNDEFReaderSessionDelegate {
    private var session: NFCNDEFReaderSession?
    private var continuation: CheckedContinuation<String?, Never>?

    /// Whether this phone reads NFC cards at all.
    static var available: Bool { NFCNDEFReaderSession.readingAvailable }

    /// Shows the system's scanning sheet with `prompt` and returns the card's link, or `nil`
    /// if none was read (cancelled, not the station's card).
    func read(prompt: String) async -> String? {
        await withCheckedContinuation { continuation in
            self.continuation = continuation
            let session = NFCNDEFReaderSession(delegate: self, queue: nil, invalidateAfterFirstRead: true)
            session.alertMessage = prompt
            self.session = session
            session.begin()
        }
    }

    func readerSession(_ session: NFCNDEFReaderSession, didDetectNDEFs messages: [NFCNDEFMessage]) {
        let link = messages.lazy.flatMap(\.records).compactMap { $0.wellKnownTypeURIPayload()?.absoluteString }.first
        finish(link)
    }

    func readerSession(_ session: NFCNDEFReaderSession, didInvalidateWithError error: Error) {
        finish(nil)
    }

    private func finish(_ link: String?) {
        continuation?.resume(returning: link)
        continuation = nil
        session = nil
    }
}

/// A QR code of `text`, large enough for another phone's camera across a table.
struct QRCodeImage: View {
    let text: String

    var body: some View {
        let filter = CIFilter.qrCodeGenerator()
        filter.message = Data(text.utf8)
        filter.correctionLevel = "M"
        let context = CIContext()
        if let output = filter.outputImage?.transformed(by: CGAffineTransform(scaleX: 10, y: 10)),
           let image = context.createCGImage(output, from: output.extent) {
            return AnyView(Image(decorative: image, scale: 1).interpolation(.none).resizable().scaledToFit())
        }
        return AnyView(Text(text).font(.caption.monospaced()))
    }
}

/// The camera reading one QR code; `onText` gets its text.
struct QRScannerView: UIViewControllerRepresentable {
    let onText: (String) -> Void

    func makeUIViewController(context: Context) -> ScannerController {
        let controller = ScannerController()
        controller.onText = onText
        return controller
    }

    func updateUIViewController(_ controller: ScannerController, context: Context) {}

    final class ScannerController: UIViewController, AVCaptureMetadataOutputObjectsDelegate {
        var onText: ((String) -> Void)?
        private let capture = AVCaptureSession()

        override func viewDidLoad() {
            super.viewDidLoad()
            guard let camera = AVCaptureDevice.default(for: .video), let input = try? AVCaptureDeviceInput(device: camera),
                  capture.canAddInput(input) else { return }
            capture.addInput(input)
            let output = AVCaptureMetadataOutput()
            guard capture.canAddOutput(output) else { return }
            capture.addOutput(output)
            output.setMetadataObjectsDelegate(self, queue: .main)
            output.metadataObjectTypes = [.qr]
            let preview = AVCaptureVideoPreviewLayer(session: capture)
            preview.frame = view.layer.bounds
            preview.videoGravity = .resizeAspectFill
            view.layer.addSublayer(preview)
            DispatchQueue.global(qos: .userInitiated).async { self.capture.startRunning() }
        }

        func metadataOutput(_ output: AVCaptureMetadataOutput, didOutput objects: [AVMetadataObject], from connection: AVCaptureConnection) {
            guard let code = objects.first as? AVMetadataMachineReadableCodeObject, let text = code.stringValue else { return }
            capture.stopRunning()
            onText?(text)
        }
    }
}

/// The volunteer's phone: the finished visit's code for the elder's phone, then the camera
/// for the signature it shows back.
struct SignVisitView: View {
    @EnvironmentObject private var model: VolunteerModel
    let visitId: String
    @State private var summary: String?
    @State private var scanning = false

    var body: some View {
        VStack(spacing: 16) {
            if scanning {
                Text("presence.scan_signature").font(.title.bold()).multilineTextAlignment(.center)
                QRScannerView { signature in
                    Task { await model.attachSignature(signature, to: visitId) }
                }
            } else {
                Text("presence.show_to_elder").font(.title.bold()).multilineTextAlignment(.center)
                if let summary { QRCodeImage(text: summary) }
                BigButton(title: "presence.scan_signature_button", color: .blue) { scanning = true }
            }
        }
        .padding()
        .task { summary = model.summary(of: visitId) }
    }
}

/// The elder's (or family's) phone: scan the volunteer's code, sign it, show the signature.
struct CosignView: View {
    @EnvironmentObject private var model: VolunteerModel
    @State private var signature: String?

    var body: some View {
        VStack(spacing: 16) {
            if let signature {
                Text("presence.show_signature").font(.title.bold()).multilineTextAlignment(.center)
                QRCodeImage(text: signature)
            } else {
                Text("presence.scan_visit").font(.title.bold()).multilineTextAlignment(.center)
                QRScannerView { summary in
                    Task { signature = await model.cosign(summary) }
                }
            }
        }
        .padding()
    }
}
