"""What goes into the frozen app and what stays out: one plain module that the
PyInstaller spec builds from and the packaging tests check (so that, say, a new
`import PySide6.QtSvg` in the window cannot silently break the bundle)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

APP_NAME = "Token Budget"
GUI_EXE = "TokenBudget"  # the window (windowed on Windows and macOS)
CLI_EXE = "token-budget"  # the command line, including `token-budget --self-test`
BUNDLE_ID = "app.tokenbudget.TokenBudget"  # macOS CFBundleIdentifier
# The oldest macOS the app runs on: every bundled binary must load there (the spec stops
# otherwise, and packaging/check_macos_minimum.py checks the macOS Qt wheels in CI).
# PySide6-Essentials 6.10 and newer build their own libraries for macOS 15 although the
# wheels are tagged 13, so pyproject.toml pins PySide6 below 6.10 on macOS (6.9.3: 12.0).
MACOS_MINIMUM = "13.0"
MACOS_MINIMUM_FLOOR = "11.0"  # LSMinimumSystemVersion is never older than this
# Our JSON export, associated with the app by the installers (Windows ProgID, macOS UTI).
EXPORT_EXTENSION = "tokenbudget"
EXPORT_TYPE_NAME = "Token Budget export"

# Folders the app reads at run time through desktop_app/paths.py, which looks for them at
# the bundle's root (sys._MEIPASS). Whole trees are copied, so new files in them travel.
SHIPPED_FOLDERS = ("resources", "migrations")
DATA_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "screenshots"]

# Modules nothing imports by name that the app needs at run time (the spec adds every
# module of desktop_app and of keyring.backends on top).
HIDDEN_IMPORTS = [
    # tiktoken finds encodings through the tiktoken_ext namespace package
    "tiktoken_ext",
    "tiktoken_ext.openai_public",
    # the dialect SQLAlchemy loads by URL, and what alembic's env.py and our version
    # scripts import: they are loaded from files in migrations/, not analysed
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "alembic",
    "alembic.context",
    "alembic.op",
    "alembic.runtime.migration",
    "alembic.ddl.sqlite",
    "logging.config",
]

# The app uses QtCore, QtGui and QtWidgets only; every other Qt module stays out.
QT_MODULES_EXCLUDED = (
    "QtQml", "QtQuick", "QtQuick3D", "QtQuickControls2", "QtQuickWidgets", "QtQuickTest",
    "QtQmlFeatures", "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick",
    "QtWebChannel", "QtWebSockets", "QtWebView", "Qt3DCore", "Qt3DRender", "Qt3DInput",
    "Qt3DLogic", "Qt3DAnimation", "Qt3DExtras", "QtMultimedia", "QtMultimediaWidgets",
    "QtSpatialAudio", "QtTextToSpeech", "QtPdf", "QtPdfWidgets", "QtCharts", "QtGraphs",
    "QtGraphsWidgets", "QtDataVisualization", "QtBluetooth", "QtNfc", "QtSensors",
    "QtSerialPort", "QtSerialBus", "QtPositioning", "QtLocation", "QtRemoteObjects",
    "QtScxml", "QtStateMachine", "QtSql", "QtDesigner", "QtHelp", "QtUiTools",
    "QtXml", "QtOpenGL", "QtOpenGLWidgets", "QtPrintSupport", "QtSvg", "QtSvgWidgets",
    "QtConcurrent", "QtHttpServer", "QtNetworkAuth", "QtAxContainer", "QtLabsStyleKit",
    "QtNetwork",  # httpx does the app's HTTP
    "QtTest",  # only `token-budget bench` drives the window with it; run that from source
)
OTHER_EXCLUDED = (
    "tkinter",
    "unittest",
    "pydoc",
    "pytest",
    "hypothesis",
    "IPython",
    "numpy",  # optional speed-ups of openai and tiktoken; the app does not need them
    "pandas",
    "PIL",
    "setuptools",
    "pip",
    "sqlalchemy.testing",
    # optional extras of the openai SDK and its HTTP stack that the app never calls:
    # AWS Bedrock and Google Vertex auth, trio, the httpx command line, realtime audio,
    # and mako's syntax-highlighting plugin
    "botocore",
    "boto3",
    "google",
    "requests",
    "urllib3",
    "trio",
    "click",
    "pygments",
    "rich",
    "mypy",
    "dateutil",
    "distutils",
    "websockets",
    "sounddevice",
)
# Linux only: keyring reaches the Secret Service keychain through secretstorage, which
# needs `cryptography` (11 MB, a quarter of the folder's Python side). The Windows and
# macOS bundles never carry it. Without it the frozen Linux app keeps API keys for the
# running session and says so plainly; a pip-installed app uses the keychain as usual.
LINUX_ONLY_EXCLUDED = ("cryptography", "secretstorage", "_cffi_backend")
# Modules left out although these files import them: tools that run from a checkout only.
LEFT_OUT_FOR_TOOLS = {"PySide6.QtTest": ("desktop_app/ui/bench.py",)}
# Python bindings of Qt modules the app never imports (the Qt libraries stay for Qt).
UNUSED_BINDINGS = ("PySide6.QtDBus",)
EXCLUDES = (
    [f"PySide6.{name}" for name in QT_MODULES_EXCLUDED]
    + list(OTHER_EXCLUDED)
    + list(UNUSED_BINDINGS)
)

# Qt plugins the app has no use for: embedded-device platforms, input read straight from
# the kernel, the GTK theme (it drags in GTK's libraries; the app styles itself), SQL
# drivers, TLS and network information (Qt's networking is not used), printing, QML
# tooling and rare image formats.
QT_PLUGIN_TYPES_DROPPED = frozenset({
    "egldeviceintegrations", "generic", "qmltooling", "sqldrivers", "designer",
    "networkinformation", "tls", "printsupport", "vectorimageformats",
    "wayland-graphics-integration-server", "position", "sensors", "texttospeech",
    # Wayland: Qt falls back to xcb, which every Wayland desktop serves through XWayland
    "wayland-decoration-client", "wayland-graphics-integration-client",
    "wayland-shell-integration",
    "multimedia", "renderers", "sceneparsers", "geometryloaders", "canbus",
})
QT_PLUGINS_DROPPED = frozenset({
    "qeglfs", "qlinuxfb", "qminimalegl", "qvkkhrdisplay", "qvnc", "qgtk3", "qwayland",
    "qpdf", "qtiff", "qwebp", "qtga", "qwbmp",
})
# Qt's translations are collected as data; the app's text is English only.
DATA_DROPPED_UNDER = ("PySide6/Qt/translations/",)


# Linux: the desktop's own libraries (X11, xcb, fonts, glib, D-Bus, systemd and what they
# pull in) are on every machine that can show a window, and a bundled copy can clash with
# the system's. The same rule as AppImage's exclude list: they stay out of the folder.
LINUX_SYSTEM_LIBRARIES = (
    "libX11", "libX11-xcb", "libXau", "libXdmcp", "libxcb", "libxkbcommon", "libfontconfig",
    "libfreetype", "libpng16", "libexpat", "libbrotli", "libglib-2.0", "libgthread-2.0",
    "libpcre2-8", "libdbus-1", "libsystemd", "libgcrypt", "libgpg-error", "libcap",
    "liblz4", "libbsd", "libmd", "libQt6WaylandClient", "libQt6WlShellIntegration",
)


def wanted_linux_binary(dest: str) -> bool:
    name = Path(dest).name
    if name.startswith("libxcb-cursor"):  # Qt 6.5+ needs it and many desktops lack it
        return True
    return not any(name == lib or name.startswith((lib + ".", lib + "-"))
                   for lib in LINUX_SYSTEM_LIBRARIES)


def wanted_plugin(path: str) -> bool:
    stem = Path(path).name.split(".")[0]
    return stem.removeprefix("lib") not in QT_PLUGINS_DROPPED


def wanted_data(dest: str) -> bool:
    dest = dest.replace("\\", "/")
    return not any(dest.startswith(prefix) for prefix in DATA_DROPPED_UNDER)
