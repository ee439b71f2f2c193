// RelayLine.kt — the phone's line to the relay, as a TCP proxy on 127.0.0.1 the test controls:
// pass everything, lose the relay's answers (the relay got the request, the phone never hears
// back), or hold every request unanswered (a dead network that does not even refuse).
package org.timebank.android

import java.io.IOException
import java.io.OutputStream
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.ConcurrentHashMap
import kotlin.concurrent.thread

/** A proxy between phones and the relay at [upstreamPort]; phones enroll with [url]. */
class RelayLine(@Volatile var upstreamPort: Int) : AutoCloseable {
    enum class Mode { Pass, LoseAnswers, Hold }

    @Volatile
    var mode: Mode = Mode.Pass

    private val server = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val open = ConcurrentHashMap.newKeySet<Socket>()

    /** The address phones use. */
    val url: String = "http://127.0.0.1:${server.localPort}"

    /** Requests the relay got whose answers were thrown away. */
    @Volatile
    var answersLost = 0
        private set

    init {
        thread(isDaemon = true, name = "relay-line") {
            while (!server.isClosed) {
                val phone = try {
                    server.accept()
                } catch (closed: IOException) {
                    break
                }
                open += phone
                thread(isDaemon = true) { carry(phone) }
            }
        }
    }

    private fun carry(phone: Socket) {
        if (mode == Mode.Hold) {
            // Read what the phone sends and never answer, until the test lets go.
            runCatching { phone.getInputStream().copyTo(OutputStream.nullOutputStream()) }
            return
        }
        val relay = try {
            Socket().apply { connect(InetSocketAddress(InetAddress.getLoopbackAddress(), upstreamPort), 2_000) }
        } catch (refused: IOException) {
            runCatching { phone.close() } // a dead relay: the phone sees the connection drop
            open -= phone
            return
        }
        open += relay
        thread(isDaemon = true) {
            runCatching { phone.getInputStream().copyTo(relay.getOutputStream()) }
            runCatching { relay.shutdownOutput() }
        }
        runCatching {
            val buffer = ByteArray(16 * 1024)
            val fromRelay = relay.getInputStream()
            while (true) {
                val n = fromRelay.read(buffer)
                if (n < 0) break
                if (mode == Mode.LoseAnswers) {
                    answersLost += 1
                    break
                }
                phone.getOutputStream().write(buffer, 0, n)
                phone.getOutputStream().flush()
            }
        }
        runCatching { phone.close() }
        runCatching { relay.close() }
        open -= phone
        open -= relay
    }

    /** Drops every open connection (a held request then fails on the phone at once). */
    fun dropConnections() {
        open.forEach { runCatching { it.close() } }
        open.clear()
    }

    override fun close() {
        runCatching { server.close() }
        dropConnections()
    }
}
