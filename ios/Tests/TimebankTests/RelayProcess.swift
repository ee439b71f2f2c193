// The real `timebank-relay` binary as a child process of the tests, and its admin commands.
// scripts/test-swift.sh builds it on the host and names it in TIMEBANK_RELAY_BIN; without it
// the tests fail with a message saying so (never a silent skip).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the relay fixture could not do what a test asked.
struct RelayFailure: Error, CustomStringConvertible {
    let description: String
}

/// A `timebank-relay` serving `data` on 127.0.0.1; SIGKILLed when released, if still running.
final class RelayProcess {
    /// The relay's data directory (its SQLite store).
    let data: URL
    /// `http://127.0.0.1:PORT`, as the relay printed it.
    private(set) var url: String
    private var process: Process
    private var output: Pipe

    /// The relay binary named by TIMEBANK_RELAY_BIN.
    static func binary() throws -> URL {
        guard let path = ProcessInfo.processInfo.environment["TIMEBANK_RELAY_BIN"], !path.isEmpty else {
            throw RelayFailure(description: "TIMEBANK_RELAY_BIN is not set; run the Swift tests through scripts/test-swift.sh, which builds target/debug/timebank-relay")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw RelayFailure(description: "TIMEBANK_RELAY_BIN=\(path) is not an executable; build it with cargo build -p timebank-server --bin timebank-relay")
        }
        return URL(fileURLWithPath: path)
    }

    /// Starts a relay on any free port.
    init(data: URL) throws {
        self.data = data
        (process, output, url) = try RelayProcess.spawn(data: data, port: nil)
    }

    /// The port it listens on.
    var port: Int {
        Int(url.split(separator: ":").last ?? "") ?? 0
    }

    /// Starts the relay again on the same port (so enrolled phones find it at their stored
    /// address), retrying while the kernel still holds the port.
    func restart() throws {
        precondition(!process.isRunning, "restart() needs a stopped relay")
        let deadline = Date().addingTimeInterval(10)
        var lastError: Error = RelayFailure(description: "the relay did not start")
        while Date() < deadline {
            do {
                (process, output, url) = try RelayProcess.spawn(data: data, port: port)
                return
            } catch {
                lastError = error
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        throw lastError
    }

    /// SIGKILL: no clean shutdown, as when the machine loses power.
    func kill() {
        signal(SIGKILL)
        process.waitUntilExit()
    }

    /// SIGSTOP: the socket still accepts connections but nothing answers (a hung relay).
    func freeze() {
        signal(SIGSTOP)
    }

    /// SIGCONT after `freeze()`.
    func thaw() {
        signal(SIGCONT)
    }

    deinit {
        if process.isRunning {
            kill()
        }
    }

    /// Runs `timebank-relay admin --data DATA ARGS --json` (with `input` on stdin) and returns the
    /// JSON object it printed.
    func admin(_ args: [String], input: String = "") throws -> [String: Any] {
        let admin = Process()
        admin.executableURL = try RelayProcess.binary()
        admin.arguments = ["admin", "--data", data.path] + args + ["--json"]
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        admin.standardInput = stdin
        admin.standardOutput = stdout
        admin.standardError = stderr
        try admin.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let printed = stdout.fileHandleForReading.readDataToEndOfFile()
        let complaint = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        admin.waitUntilExit()
        guard admin.terminationStatus == 0 else {
            throw RelayFailure(description: "admin \(args) failed: \(complaint)")
        }
        guard let json = try JSONSerialization.jsonObject(with: printed) as? [String: Any] else {
            throw RelayFailure(description: "admin \(args) printed no JSON object")
        }
        return json
    }

    /// A string field of an admin command's JSON answer.
    func admin(_ args: [String], field: String) throws -> String {
        guard let value = try admin(args)[field] as? String else {
            throw RelayFailure(description: "admin \(args) printed no \(field)")
        }
        return value
    }

    private func signal(_ number: Int32) {
        if process.isRunning {
            sendSignal(number, to: process.processIdentifier)
        }
    }

    private static func spawn(data: URL, port: Int?) throws -> (Process, Pipe, String) {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = ["--listen", "127.0.0.1:\(port ?? 0)", "--data", data.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = readLine(output.fileHandleForReading)
        guard line.hasPrefix("listening on http://127.0.0.1:") else {
            process.waitUntilExit()
            throw RelayFailure(description: "the relay did not start (it printed \"\(line)\")")
        }
        return (process, output, String(line.dropFirst("listening on ".count)))
    }

    private static func readLine(_ handle: FileHandle) -> String {
        var bytes = Data()
        while true {
            let byte = handle.readData(ofLength: 1)
            if byte.isEmpty || byte.first == UInt8(ascii: "\n") {
                break
            }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// kill(2), outside the class whose own `kill()` would shadow it.
private func sendSignal(_ number: Int32, to pid: Int32) {
    _ = kill(pid, number)
}
