# After packaging\windows\build.ps1, on Windows (the release workflow runs it): installs
# the built installer for the current user twice and uninstalls it each time.
#
#   1. without the association task: no file-association key may be written;
#   2. with it: the association's keys are there, the registered open command starts the
#      installed window program, and that program, given an export the way a double-click
#      gives it ("%1"), opens it (its self-test imports it as a session);
#   after each uninstall: the program folder and every key the installer wrote are gone
#   (no empty keys left behind). With a signing certificate, the uninstaller is signed.
#
#   powershell -ExecutionPolicy Bypass -File packaging\windows\check_install.ps1
$ErrorActionPreference = "Stop"
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
$Setup = Get-ChildItem (Join-Path $Root "dist\installer\*.exe") | Select-Object -First 1
if (-not $Setup) { throw "no installer in dist\installer: run build.ps1 first" }
$Sample = Join-Path $Root "packaging\fixtures\sample-export.tokenbudget"
$Classes = "HKCU:\Software\Classes"
$Keys = @(
    "$Classes\.tokenbudget",
    "$Classes\TokenBudget.Export",
    "$Classes\Applications\TokenBudget.exe"
)
$Dir = Join-Path $env:RUNNER_TEMP "TokenBudgetInstall"
if (-not $env:RUNNER_TEMP) { $Dir = Join-Path ([IO.Path]::GetTempPath()) "TokenBudgetInstall" }

function Install([string]$Tasks) {
    $Log = Join-Path ([IO.Path]::GetTempPath()) "tb-install.log"
    $p = Start-Process -FilePath $Setup.FullName -Wait -PassThru -ArgumentList @(
        "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART", "/CURRENTUSER",
        "/DIR=`"$Dir`"", "/TASKS=`"$Tasks`"", "/LOG=`"$Log`"")
    if ($p.ExitCode -ne 0) { Get-Content $Log; throw "the installer failed (exit $($p.ExitCode))" }
    if (-not (Test-Path (Join-Path $Dir "TokenBudget.exe"))) { throw "TokenBudget.exe not installed in $Dir" }
}

function Uninstall {
    $Uninstaller = Join-Path $Dir "unins000.exe"
    $p = Start-Process -FilePath $Uninstaller -Wait -PassThru -ArgumentList @(
        "/VERYSILENT", "/SUPPRESSMSGBOXES", "/NORESTART")
    if ($p.ExitCode -ne 0) { throw "the uninstaller failed (exit $($p.ExitCode))" }
    # the uninstaller finishes in a copy of itself: wait for the folder to go
    for ($i = 0; $i -lt 60 -and (Test-Path (Join-Path $Dir "TokenBudget.exe")); $i++) { Start-Sleep 1 }
    if (Test-Path (Join-Path $Dir "TokenBudget.exe")) { throw "uninstall left $Dir\TokenBudget.exe" }
    $Left = $Keys | Where-Object { Test-Path $_ }
    if ($Left) { throw "uninstall left registry keys: $($Left -join ', ')" }
}

Write-Host "check_install: installing without the file association"
Install "desktopicon"
$Written = $Keys | Where-Object { Test-Path $_ }
if ($Written) { throw "association keys written with the task unticked: $($Written -join ', ')" }
Uninstall

Write-Host "check_install: installing with the file association"
Install "association"
$Command = (Get-ItemProperty "$Classes\TokenBudget.Export\shell\open\command").'(default)'
$Expected = "`"$Dir\TokenBudget.exe`" `"%1`""
if ($Command -ne $Expected) { throw "open command is [$Command], expected [$Expected]" }
$Progid = Get-ItemProperty "$Classes\.tokenbudget\OpenWithProgids"
if ($null -eq $Progid."TokenBudget.Export") { throw ".tokenbudget does not list TokenBudget.Export" }
if ($env:WINDOWS_SIGN_CERT) {
    $Status = (Get-AuthenticodeSignature (Join-Path $Dir "unins000.exe")).Status
    if ($Status -ne "Valid") { throw "the uninstaller's signature is $Status" }
}

# The registered command with the export for %1, plus --self-test so that it exits:
# the windowed program has no console, so its lines go to a log file.
$Scratch = Join-Path ([IO.Path]::GetTempPath()) ("tb-open-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $Scratch | Out-Null
$env:QT_QPA_PLATFORM = "offscreen"
$env:TOKEN_BUDGET_DATA_DIR = Join-Path $Scratch "data"
$env:TOKEN_BUDGET_SELF_TEST_LOG = Join-Path $Scratch "self-test.log"
$Exe = Join-Path $Dir "TokenBudget.exe"
$p = Start-Process -FilePath $Exe -Wait -PassThru -WorkingDirectory $Scratch `
    -ArgumentList @("--self-test", "`"$Sample`"")
Get-Content $env:TOKEN_BUDGET_SELF_TEST_LOG
Remove-Item Env:TOKEN_BUDGET_SELF_TEST_LOG, Env:TOKEN_BUDGET_DATA_DIR
if ($p.ExitCode -ne 0) { throw "the installed app's self-test failed (exit $($p.ExitCode))" }
if (-not (Select-String -Path (Join-Path $Scratch "self-test.log") -Pattern "^ok\s+open a file:" -Quiet)) {
    throw "the installed app did not open $Sample"
}
Uninstall
Write-Host "check_install: installed, opened an export, uninstalled cleanly (both ways)"
