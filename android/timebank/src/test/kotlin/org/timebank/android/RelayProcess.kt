// RelayProcess.kt — a real `timebank-relay` for the tests: a child process on 127.0.0.1, its
// data directory, and its admin commands (station, member, enrollment code, ledger).
package org.timebank.android

import java.io.File
import java.nio.file.Files
import java.util.concurrent.TimeUnit

/** The relay binary: the `timebank.relay` system property (set by scripts/test-kotlin.sh and Gradle). */
private fun relayBinary(): File {
    val path = System.getProperty("timebank.relay")
        ?: error("system property timebank.relay is not set; run the tests with scripts/test-kotlin.sh")
    return File(path).also {
        check(it.canExecute()) { "the relay binary $it is missing; build it with cargo build -p timebank-server" }
    }
}

/** A relay's data directory and its admin commands; [start] runs the relay itself. */
class RelayData(val dir: File = Files.createTempDirectory("timebank-relay").toFile()) {
    private val binary = relayBinary()

    /** Runs `timebank-relay admin --data DIR ARGS --json` (with [input] on stdin) and returns what it printed. */
    fun admin(vararg args: String, input: String = ""): String {
        val process = ProcessBuilder(listOf(binary.path, "admin", "--data", dir.path) + args + "--json")
            .redirectError(ProcessBuilder.Redirect.PIPE)
            .start()
        process.outputStream.use { it.write(input.toByteArray()) }
        val out = process.inputStream.bufferedReader().readText()
        val err = process.errorStream.bufferedReader().readText()
        check(process.waitFor() == 0) { "admin ${args.joinToString(" ")} failed: $err" }
        return out
    }

    /** A new station's id. */
    fun station(name: String): String = jsonString(admin("station", "create", "--name", name), "id")

    /** A new member's id. */
    fun member(station: String, role: String, name: String, birthYear: Int): String =
        jsonString(
            admin("member", "create", "--station", station, "--role", role, "--name", name, "--birth-year", "$birthYear"),
            "id",
        )

    /** A one-time enrollment code for one device of [member]. */
    fun enrollCode(member: String): String = jsonString(admin("enroll-code", "--member", member), "code")

    /** Starts the relay on [port] (0: any free port) and waits until it listens. */
    fun start(port: Int = 0): RelayProcess {
        repeat(40) {
            val process = ProcessBuilder(binary.path, "--listen", "127.0.0.1:$port", "--data", dir.path)
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start()
            val line = process.inputStream.bufferedReader().readLine().orEmpty()
            val url = line.trim().removePrefix("listening on ")
            if (url != line.trim() && url.startsWith("http://127.0.0.1:")) {
                // A test run that is killed must not leave relays behind.
                Runtime.getRuntime().addShutdownHook(Thread { process.destroyForcibly() })
                return RelayProcess(process, url)
            }
            process.destroyForcibly().waitFor()
            Thread.sleep(50) // the port of a killed relay may not be free yet
        }
        error("the relay did not start on port $port")
    }
}

/** A running relay; [kill] stops it like a crash or a dead network. */
class RelayProcess(private val process: Process, val url: String) : AutoCloseable {
    /** The port it listens on, to restart it at the same address. */
    val port: Int get() = url.substringAfterLast(':').toInt()

    /** SIGKILL: nothing flushed that was not already. */
    fun kill() {
        process.destroyForcibly()
        check(process.waitFor(10, TimeUnit.SECONDS)) { "the relay did not die within 10 s of SIGKILL" }
    }

    override fun close() {
        if (process.isAlive) kill()
    }
}

/** The string value of [key] in a flat JSON object, as the admin commands print it. */
fun jsonString(json: String, key: String): String =
    Regex("\"${Regex.escape(key)}\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1)
        ?: error("no \"$key\" in $json")
