// ConsoleClient.kt — the coordinators' console as a browser uses it, for the tests: a console account
// made with the admin command, signed in with a cookie-keeping HTTP client, and the orders board's
// forms (place an order, dispatch it), each carrying the page's CSRF token.
package org.timebank.android

import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse

/** A signed-in console account of a station's coordinator, on the relay at [url]. */
class ConsoleClient private constructor(private val url: String) {
    private val http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build()

    /** The cookies the relay set, as a browser keeps them (the console's are all `Path=/console`). */
    private val cookies = mutableMapOf<String, String>()

    private fun send(request: HttpRequest.Builder): HttpResponse<String> {
        if (cookies.isNotEmpty()) request.header("cookie", cookies.entries.joinToString("; ") { "${it.key}=${it.value}" })
        val answer = http.send(request.build(), HttpResponse.BodyHandlers.ofString())
        for (set in answer.headers().allValues("set-cookie")) {
            val (name, value) = set.substringBefore(';').split('=', limit = 2)
            if (value.isEmpty() || "Max-Age=0" in set) cookies.remove(name) else cookies[name] = value
        }
        // A form's answer is 303 to the next page (POST, redirect, GET).
        val next = answer.headers().firstValue("location").orElse(null)
        return if (answer.statusCode() == 303 && next != null) send(HttpRequest.newBuilder(URI("$url$next")).GET()) else answer
    }

    private fun get(path: String): String = send(HttpRequest.newBuilder(URI("$url$path")).GET()).body()

    /** Posts [fields] with the CSRF token of [page]; returns the page it leads to. */
    private fun post(path: String, page: String, vararg fields: Pair<String, String>): String {
        val csrf = Regex("name=\"csrf\" value=\"([^\"]+)\"").find(page)?.groupValues?.get(1) ?: error("no CSRF token on the page")
        val form = (listOf("csrf" to csrf) + fields).joinToString("&") { (k, v) ->
            "${URLEncoder.encode(k, Charsets.UTF_8)}=${URLEncoder.encode(v, Charsets.UTF_8)}"
        }
        val request = HttpRequest.newBuilder(URI("$url$path"))
            .header("content-type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(form))
        val answer = send(request)
        check(answer.statusCode() == 200) { "POST $path: ${answer.statusCode()} ${answer.body()}" }
        return answer.body()
    }

    /** Places an order (点单) for [elder] on the orders board; returns its id. */
    fun placeOrder(elder: String, service: String, note: String): String {
        val board = post("/console/orders", get("/console/orders"), "elder" to elder, "service" to service, "note" to note)
        return Regex("data-order=\"([^\"]+)\"").find(board)?.groupValues?.get(1) ?: error("the order is not on the board")
    }

    /** Dispatches [order] (派单) to [volunteer]. */
    fun dispatch(order: String, volunteer: String) {
        post("/console/orders/$order/dispatch", get("/console/orders"), "volunteer" to volunteer)
    }

    companion object {
        private const val PASSWORD = "correct horse battery"

        /** A console account for [coordinator] of [station], made and signed in at [url]. */
        fun signIn(data: RelayData, url: String, station: String, coordinator: String): ConsoleClient {
            val username = "coord${System.nanoTime() % 100_000}"
            data.admin(
                "console-user", "create", "--username", username, "--station", station, "--member", coordinator,
                "--password-stdin", input = "$PASSWORD\n",
            )
            return ConsoleClient(url).apply {
                post("/console/login", get("/console/login"), "username" to username, "password" to PASSWORD)
            }
        }
    }
}
