// Theme.kt — large type and strong contrast for volunteers over 60: body text 22 sp, buttons 28 sp.
package org.timebank.android.app.ui

import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Typography
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.Composable
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.text.TextStyle
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.sp

private val colors = lightColorScheme(
    primary = Color(0xFF0B5394),
    onPrimary = Color.White,
    secondary = Color(0xFF38761D),
    onSecondary = Color.White,
    error = Color(0xFFB00020),
    background = Color.White,
    onBackground = Color(0xFF111111),
    surface = Color(0xFFF6F6F6),
    onSurface = Color(0xFF111111),
)

private val typography = Typography(
    headlineMedium = TextStyle(fontSize = 32.sp, fontWeight = FontWeight.Bold, lineHeight = 40.sp),
    titleLarge = TextStyle(fontSize = 26.sp, fontWeight = FontWeight.Bold, lineHeight = 34.sp),
    bodyLarge = TextStyle(fontSize = 22.sp, lineHeight = 30.sp),
    bodyMedium = TextStyle(fontSize = 20.sp, lineHeight = 28.sp),
    labelLarge = TextStyle(fontSize = 28.sp, fontWeight = FontWeight.Bold),
)

/** Text scales further with the phone's own font size setting (sp units). */
@Composable
fun TimebankTheme(content: @Composable () -> Unit) {
    MaterialTheme(colorScheme = colors, typography = typography, content = content)
}
