// NetworkConnectivity.kt — whether the phone has a usable network, as a StateFlow for the SyncScheduler,
// from ConnectivityManager's default-network callback (Android only).
package org.timebank.android.app.sync

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** Follows the default network for the life of the app; [online] is true while it can reach the internet. */
class NetworkConnectivity(context: Context) {
    private val manager = requireNotNull(context.getSystemService(ConnectivityManager::class.java)) {
        "this device has no ConnectivityManager"
    }
    private val state = MutableStateFlow(isOnlineNow())

    /** True while the default network has validated internet access. */
    val online: StateFlow<Boolean> = state.asStateFlow()

    init {
        manager.registerDefaultNetworkCallback(object : ConnectivityManager.NetworkCallback() {
            override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) {
                state.value = capabilities.hasInternet()
            }

            override fun onLost(network: Network) {
                state.value = false
            }
        })
    }

    private fun isOnlineNow(): Boolean =
        manager.getNetworkCapabilities(manager.activeNetwork)?.hasInternet() ?: false

    private fun NetworkCapabilities.hasInternet(): Boolean =
        hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET) &&
            hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED)
}
