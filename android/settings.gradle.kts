// settings.gradle.kts — the Android build: the `timebank` library module and the volunteers' sample `app`.
// Not built on the project's CI machines (no Android SDK there); see README.md.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "timebank-android"
include(":timebank", ":app")
