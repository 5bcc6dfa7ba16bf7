# Build the Windows installer: the PyInstaller folder, its self-test, then Inno Setup.
#
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1
#
# Needs: Python 3.11+ (x64) on PATH or given with -Python, and Inno Setup 6 (ISCC.exe in
# its default folder, on PATH, or given with -Iscc). Output:
#   dist\TokenBudget\                                  the app folder
#   dist\installer\TokenBudget-<version>-windows-x64-setup.exe
# Code signing (optional): set WINDOWS_SIGN_CERT (a .pfx path) and WINDOWS_SIGN_PASSWORD;
# the executables, the installer and its uninstaller are then signed with signtool.
# Unset: unsigned.
param(
    [string]$Python = "python",
    [string]$Iscc = ""
)
$ErrorActionPreference = "Stop"
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root

function Invoke-Checked([string]$What, [scriptblock]$Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)" }
}

# The version lives in pyproject.toml only; packaging\version.py turns it into the four
# numbers Windows version info takes (0.2.0rc1 -> 0.2.0.30001).
$Version = (& $Python packaging\version.py).Trim()
if (-not $Version) { throw "could not read the version from pyproject.toml" }
$WinVersion = (& $Python packaging\version.py windows).Trim()
if ($LASTEXITCODE -ne 0 -or -not $WinVersion) { throw "version.py cannot express $Version for Windows" }
Write-Host "build: Token Budget $Version (Windows version info $WinVersion)"

Invoke-Checked "installing the project and PyInstaller" { & $Python -m pip install -q ".[build]" }
Invoke-Checked "PyInstaller" {
    & $Python -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build\pyinstaller packaging\token_budget.spec
}

$App = Join-Path $Root "dist\TokenBudget"
$env:QT_QPA_PLATFORM = "offscreen"
$Scratch = Join-Path ([System.IO.Path]::GetTempPath()) ("tb-selftest-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $Scratch | Out-Null
try {
    Push-Location $Scratch
    $env:TOKEN_BUDGET_DATA_DIR = Join-Path $Scratch "data"
    $Sample = Join-Path $Root "packaging\fixtures\sample-export.tokenbudget"
    Invoke-Checked "the frozen self-test" { & (Join-Path $App "token-budget.exe") --self-test $Sample }
    # The windowed program, started with a file on its command line as a double-click
    # starts it. It has no console: its self-test writes its lines to a log file.
    $env:TOKEN_BUDGET_DATA_DIR = Join-Path $Scratch "gui-data"
    $env:TOKEN_BUDGET_SELF_TEST_LOG = Join-Path $Scratch "gui-self-test.log"
    $Gui = Start-Process -FilePath (Join-Path $App "TokenBudget.exe") -Wait -PassThru `
        -ArgumentList @("--self-test", "`"$Sample`"")
    Get-Content $env:TOKEN_BUDGET_SELF_TEST_LOG
    if ($Gui.ExitCode -ne 0) { throw "the windowed program's self-test failed (exit $($Gui.ExitCode))" }
} finally {
    Pop-Location
    Remove-Item Env:TOKEN_BUDGET_DATA_DIR -ErrorAction SilentlyContinue
    Remove-Item Env:TOKEN_BUDGET_SELF_TEST_LOG -ErrorAction SilentlyContinue
    Remove-Item -Recurse -Force $Scratch -ErrorAction SilentlyContinue
}
$SizeMb = [math]::Round(((Get-ChildItem -Recurse -File $App | Measure-Object Length -Sum).Sum) / 1MB)
Write-Host "build: $App is $SizeMb MB"

$SignTool = $null
if ($env:WINDOWS_SIGN_CERT) {
    $SignTool = Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" |
        Sort-Object FullName -Descending | Select-Object -First 1
    if (-not $SignTool) { throw "WINDOWS_SIGN_CERT is set but signtool.exe was not found" }
}
function Sign-Files([string[]]$Files) {
    if (-not $SignTool) { return }
    foreach ($File in $Files) {
        Invoke-Checked "signing $File" {
            & $SignTool.FullName sign /f $env:WINDOWS_SIGN_CERT /p $env:WINDOWS_SIGN_PASSWORD `
                /fd sha256 /tr http://timestamp.digicert.com /td sha256 $File
        }
    }
}
if ($env:WINDOWS_SIGN_CERT) {
    Sign-Files @((Join-Path $App "TokenBudget.exe"), (Join-Path $App "token-budget.exe"))
} else {
    Write-Host "build: WINDOWS_SIGN_CERT is not set; the executables and installer are unsigned"
}

if (-not $Iscc) {
    $Candidates = @(
        (Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe"),
        (Join-Path $env:ProgramFiles "Inno Setup 6\ISCC.exe"),
        (Join-Path $env:LOCALAPPDATA "Programs\Inno Setup 6\ISCC.exe")
    )
    $Iscc = $Candidates | Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $Iscc) { $Iscc = (Get-Command ISCC.exe -ErrorAction SilentlyContinue).Source }
    if (-not $Iscc) { throw "Inno Setup 6 (ISCC.exe) not found: install it or pass -Iscc" }
}
$Installer = Join-Path $Root "dist\installer"
$IsccArgs = @("/Q", "/DAppVersion=$Version", "/DWinVersion=$WinVersion", "/DSourceDir=$App",
              "/DOutputDir=$Installer")
if ($SignTool) {
    # Inno Setup signs the installer and the uninstaller inside it with this command
    # ($f: the file, $q: a quote); the script then sets SignTool and SignedUninstaller.
    $IsccArgs += "/Ssigntool=`$q$($SignTool.FullName)`$q sign /f `$q$($env:WINDOWS_SIGN_CERT)`$q /p `$q$($env:WINDOWS_SIGN_PASSWORD)`$q /fd sha256 /tr http://timestamp.digicert.com /td sha256 `$f"
    $IsccArgs += "/DSignTool"
}
Invoke-Checked "Inno Setup" { & $Iscc @IsccArgs packaging\windows\token_budget.iss }
$Setup = Join-Path $Installer "TokenBudget-$Version-windows-x64-setup.exe"
if ($SignTool) {
    $Status = (Get-AuthenticodeSignature $Setup).Status
    if ($Status -ne "Valid") { throw "the installer's signature is $Status" }
}
Write-Host "build: installer $Setup"
