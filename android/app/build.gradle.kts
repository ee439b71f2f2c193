// app/build.gradle.kts — the volunteers' sample app (Jetpack Compose): assignments, check in / check
// out, visits with their states, balance; zh-CN first, English second. Built on a workstation with
// the Android SDK after android/build-native.sh; not on the project's CI machines.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
    id("org.jetbrains.kotlin.plugin.compose")
}

android {
    namespace = "org.timebank.android.app"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.timebank.android.app"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        // Only the languages the app is written in: Chinese first, English second.
        resourceConfigurations += listOf("zh-rCN", "en")
        ndk.abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64")
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures.compose = true
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":timebank"))

    implementation(platform("androidx.compose:compose-bom:2024.12.01"))
    implementation("androidx.compose.material3:material3")
    implementation("androidx.compose.ui:ui")
    implementation("androidx.compose.ui:ui-tooling-preview")
    implementation("androidx.activity:activity-compose:1.9.3")
    implementation("androidx.lifecycle:lifecycle-viewmodel-compose:2.8.7")
    implementation("androidx.lifecycle:lifecycle-runtime-compose:2.8.7")
    implementation("androidx.lifecycle:lifecycle-runtime-ktx:2.8.7")
    implementation("androidx.work:work-runtime-ktx:2.10.0")
    // The QR exchange with the elder's phone (ADR 29): drawing and scanning, no Google services.
    implementation("com.journeyapps:zxing-android-embedded:4.3.0")
    debugImplementation("androidx.compose.ui:ui-tooling")
}
