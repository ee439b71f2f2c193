// JvmTestMain.kt — runs the JUnit test classes named on the command line and prints `N passed, N failed`.
package org.timebank.android

import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.concurrent.thread
import kotlin.system.exitProcess

/** Prints one line per test as it finishes, then the summary line CI counts. */
private class CountingListener : RunListener() {
    var passed = 0
    var failed = 0
    private val failures = mutableSetOf<Description>()
    private val started = mutableMapOf<Description, Long>()

    @Volatile
    var current: Description? = null

    override fun testStarted(description: Description) {
        current = description
        started[description] = System.nanoTime()
    }

    override fun testFailure(failure: Failure) {
        failures += failure.description
        println("FAIL ${failure.description.className.substringAfterLast('.')}: ${failure.description.methodName}")
        // The message and our own frames; JUnit's and reflection's add nothing.
        val trace = failure.trace.lines().filter { line ->
            !line.trimStart().startsWith("at ") || "org.timebank" in line
        }
        println(trace.joinToString("\n").trimEnd().prependIndent("    "))
    }

    override fun testAssumptionFailure(failure: Failure) = testFailure(failure)

    override fun testIgnored(description: Description) {
        failed += 1
        println("FAIL ${description.displayName}: ignored tests are not allowed")
    }

    override fun testFinished(description: Description) {
        val millis = (System.nanoTime() - (started[description] ?: System.nanoTime())) / 1_000_000
        if (description in failures) {
            failed += 1
        } else {
            passed += 1
            println("ok   ${description.className.substringAfterLast('.')}: ${description.methodName} (${millis} ms)")
        }
    }
}

fun main(args: Array<String>) {
    if (args.isEmpty()) {
        System.err.println("usage: JvmTestMainKt TEST_CLASS...; no test classes were given")
        exitProcess(2)
    }
    val listener = CountingListener()
    // A test that hangs fails the run instead of stalling CI.
    val limitSeconds = System.getProperty("timebank.test.timeout", "600").toLong()
    thread(isDaemon = true, name = "test-watchdog") {
        Thread.sleep(limitSeconds * 1_000)
        println("FAIL ${listener.current?.displayName ?: "the test run"}: still running after $limitSeconds s")
        println("${listener.passed} passed, ${listener.failed + 1} failed")
        exitProcess(1) // runs the shutdown hooks that kill the relays
    }
    val core = JUnitCore()
    core.addListener(listener)
    val classes = args.map { Class.forName(it) }.toTypedArray()
    core.run(*classes)
    println("${listener.passed} passed, ${listener.failed} failed")
    exitProcess(if (listener.failed == 0 && listener.passed > 0) 0 else 1)
}
