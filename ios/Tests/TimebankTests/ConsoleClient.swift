// The coordinators' console as a browser uses it, for the tests: a console account made with the
// admin command, signed in over HTTP with the cookies kept by hand (redirects followed by hand, so
// no Set-Cookie is lost), and the orders board's forms, each carrying the page's CSRF token.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A signed-in console account of a station's coordinator. A test uses it from one Task, one
/// request after another, so its cookies are never touched by two threads at once.
final class ConsoleClient: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    private let url: String
    private var cookies: [String: String] = [:]
    private lazy var session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: nil)

    private init(url: String) {
        self.url = url
    }

    /// Signs in a new console account for `coordinator` of `station`, made with the admin command.
    static func signIn(relay: RelayProcess, station: String, coordinator: String) async throws -> ConsoleClient {
        let username = "coord\(UInt32.random(in: 0..<100_000))"
        let password = "correct horse battery"
        _ = try relay.admin(["console-user", "create", "--username", username, "--station", station,
                             "--member", coordinator, "--password-stdin"], input: password + "\n")
        let console = ConsoleClient(url: relay.url)
        _ = try await console.post("/console/login", on: try await console.get("/console/login"),
                                   ["username": username, "password": password])
        return console
    }

    /// Places an order (点单) for `elder` on the orders board; returns its id.
    func placeOrder(elder: String, service: String, note: String) async throws -> String {
        let board = try await post("/console/orders", on: try await get("/console/orders"),
                                   ["elder": elder, "service": service, "note": note])
        return try first(#"data-order="([^"]+)""#, in: board)
    }

    /// Dispatches `order` (派单) to `volunteer`.
    func dispatch(order: String, to volunteer: String) async throws {
        _ = try await post("/console/orders/\(order)/dispatch", on: try await get("/console/orders"), ["volunteer": volunteer])
    }

    // The console answers a form with 303; the next page is fetched here with the new cookies.
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }

    private func get(_ path: String) async throws -> String {
        try await send(URLRequest(url: URL(string: url + path)!))
    }

    private func post(_ path: String, on page: String, _ fields: [String: String]) async throws -> String {
        var request = URLRequest(url: URL(string: url + path)!)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        var form = ["csrf": try first(#"name="csrf" value="([^"]+)""#, in: page)]
        form.merge(fields) { $1 }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        request.httpBody = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&").data(using: .utf8)
        return try await send(request)
    }

    private func send(_ request: URLRequest) async throws -> String {
        var request = request
        if !cookies.isEmpty {
            request.setValue(cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "), forHTTPHeaderField: "Cookie")
        }
        let (data, response) = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Data, HTTPURLResponse), Error>) in
            session.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    continuation.resume(returning: (data ?? Data(), response as! HTTPURLResponse))
                }
            }.resume()
        }
        for (name, value) in response.allHeaderFields {
            guard let name = name as? String, name.lowercased() == "set-cookie", let value = value as? String else { continue }
            // Several cookies may come folded into one header, comma-joined.
            for cookie in value.components(separatedBy: ", ") {
                let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { continue }
                if pair[1].isEmpty || cookie.contains("Max-Age=0") { cookies[pair[0]] = nil } else { cookies[pair[0]] = pair[1] }
            }
        }
        if response.statusCode == 303, let next = response.value(forHTTPHeaderField: "Location") {
            return try await send(URLRequest(url: URL(string: url + next)!))
        }
        guard response.statusCode == 200 else {
            throw RelayFailure(description: "\(request.httpMethod ?? "GET") \(request.url!): \(response.statusCode)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func first(_ pattern: String, in page: String) throws -> String {
        let regex = try NSRegularExpression(pattern: pattern)
        guard let match = regex.firstMatch(in: page, range: NSRange(page.startIndex..., in: page)),
              let range = Range(match.range(at: 1), in: page) else {
            throw RelayFailure(description: "\(pattern) is not on the page")
        }
        return String(page[range])
    }
}
