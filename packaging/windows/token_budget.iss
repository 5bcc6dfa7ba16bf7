; Inno Setup 6 (6.3 or newer) script for Token Budget: installs the PyInstaller folder
; (dist\TokenBudget) for the current user, no administrator rights needed.
;
; Do not run by hand: packaging\windows\build.ps1 builds the folder and calls
;   ISCC.exe /DAppVersion=<PEP 440 version> /DWinVersion=<its four numbers> /DSourceDir=...
; both from packaging\version.py, so that the version is written in one place only
; (pyproject.toml) and a pre- or post-release (0.2.0rc1, 1.0.0.post1) still compiles:
; version info takes four numbers only. With /Ssigntool=... (build.ps1 passes it when a
; certificate is set) the installer and its uninstaller are signed.
;
; The user's data (database, backups, window layout) lives in %LOCALAPPDATA%\TokenBudget,
; outside {app}: installing, upgrading and uninstalling never touch it.

#ifndef AppVersion
  #error AppVersion is not defined: build with packaging\windows\build.ps1
#endif
#ifndef WinVersion
  #error WinVersion is not defined: build with packaging\windows\build.ps1
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\TokenBudget"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist\installer"
#endif

#define AppName "Token Budget"
#define AppExe "TokenBudget.exe"
#define CliExe "token-budget.exe"
#define ExportExt ".tokenbudget"
#define ExportProgId "TokenBudget.Export"

[Setup]
; The AppId identifies the app across versions: never change it, or upgrades would
; install a second copy beside the first.
AppId={{B416401A-6981-40C6-9EDE-DEFA167EB189}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppName}
VersionInfoVersion={#WinVersion}
VersionInfoTextVersion={#AppVersion}
VersionInfoProductVersion={#WinVersion}
VersionInfoProductTextVersion={#AppVersion}
VersionInfoProductName={#AppName}
; Per-user by default ({autopf} is then %LOCALAPPDATA%\Programs); the first page lets
; the user choose an install for all users instead, which asks for elevation.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
UsePreviousAppDir=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
SetupIconFile=..\..\resources\icons\app.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
OutputDir={#OutputDir}
OutputBaseFilename=TokenBudget-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; Close a running copy before files are replaced (upgrade), restart it afterwards.
CloseApplications=yes
RestartApplications=yes
ChangesAssociations=yes
#ifdef SignTool
; The Sign Tool named "signtool" is defined on the command line (/Ssigntool=...): it
; signs the installer and, through SignedUninstaller, the uninstaller it carries.
SignTool=signtool
SignedUninstaller=yes
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "association"; Description: "Open {#AppName} exports ({#ExportExt} files) with {#AppName}"; GroupDescription: "File association:"

[InstallDelete]
; An upgrade replaces the program folder's libraries wholesale, so that files an older
; version shipped and this one does not cannot linger. Only {app} is touched.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; HKA is HKCU for a per-user install and HKLM for an all-users one. Every key is written
; only with the association task ticked, and uninstall leaves no empty key behind: the
; extension's keys (which other apps may share) go when empty, ours go whole.
Root: HKA; Subkey: "Software\Classes\{#ExportExt}"; Flags: uninsdeletekeyifempty; Tasks: association
Root: HKA; Subkey: "Software\Classes\{#ExportExt}\OpenWithProgids"; ValueType: string; ValueName: "{#ExportProgId}"; ValueData: ""; Flags: uninsdeletevalue uninsdeletekeyifempty; Tasks: association
Root: HKA; Subkey: "Software\Classes\{#ExportProgId}"; ValueType: string; ValueName: ""; ValueData: "{#AppName} export"; Flags: uninsdeletekey; Tasks: association
Root: HKA; Subkey: "Software\Classes\{#ExportProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"; Tasks: association
Root: HKA; Subkey: "Software\Classes\{#ExportProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""; Tasks: association
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; Flags: uninsdeletekey; Tasks: association
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: "{#ExportExt}"; ValueData: ""; Tasks: association

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

; No [UninstallDelete] for the data folder, on purpose: uninstalling keeps the user's
; sessions (%LOCALAPPDATA%\TokenBudget); removing them is the user's decision.
