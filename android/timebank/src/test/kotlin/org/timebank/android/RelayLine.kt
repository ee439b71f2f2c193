// RelayLine.kt — the phone's line to the relay, as a TCP proxy on 127.0.0.1 the test controls:
// pass everything, lose the relay's answers (the relay got the request, the phone never hears
// back), or hold every new connection (a network that neither answers nor refuses) until released.
package org.timebank.android

import java.io.IOException
import java.net.InetAddress
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import kotlin.concurrent.thread

/** A proxy between phones and the relay at [upstreamPort]; phones enroll with [url]. */
class RelayLine(@Volatile var upstreamPort: Int) : AutoCloseable {
    private enum class Mode { Pass, LoseAnswers, Hold }

    @Volatile
    private var mode = Mode.Pass

    @Volatile
    private var released = CountDownLatch(0)

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

    /** Carries everything both ways. */
    fun pass() {
        mode = Mode.Pass
    }

    /** Carries requests to the relay and throws its answers away. */
    fun loseAnswers() {
        mode = Mode.LoseAnswers
    }

    /** Holds every new connection, neither answering nor refusing, until [release]. */
    fun hold() {
        released = CountDownLatch(1)
        mode = Mode.Hold
    }

    /** Lets the held connections go through to the relay, and passes new ones. */
    fun release() {
        mode = Mode.Pass
        released.countDown()
    }

    private fun carry(phone: Socket) {
        if (mode == Mode.Hold) released.await()
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

    private fun dropConnections() {
        open.forEach { runCatching { it.close() } }
        open.clear()
    }

    override fun close() {
        runCatching { server.close() }
        released.countDown()
        dropConnections()
    }
}
