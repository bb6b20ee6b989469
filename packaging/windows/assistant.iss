; Inno Setup script of the Windows installer. NOT BUILT HERE (no Windows machine in this
; project's CI): written and documented for packagers; see packaging/README.md.
;
; Build on Windows, from the repository root:
;   1. packaging\windows\build.ps1            (the PyInstaller bundle: dist\assistant\)
;   2. iscc /DAppVersion=0.1.0 packaging\windows\assistant.iss
; Result: dist\packages\offline-voice-assistant-<version>-setup.exe
;
; A per-user install by default (no administrator rights needed), into
; %LOCALAPPDATA%\Programs\Offline Voice Assistant; the whole folder, models included, is in
; the installer, so the first start needs no network. Start-menu entry, optional desktop
; icon, uninstaller. The bundle is a folder (onedir), not a one-file executable: one-file
; programs unpack themselves at each start, which antivirus tools flag.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Offline Voice Assistant"
#define AppExe "assistant.exe"

[Setup]
AppId={{6E0B6B7E-3C41-4C1B-9D6A-6F1E4C2B7A10}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=The offline-voice-assistant developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
LicenseFile=..\..\LICENSE
OutputDir=..\..\dist\packages
OutputBaseFilename=offline-voice-assistant-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
; The models (~240 MB) hardly compress; one file, no disk spanning.
DiskSpanning=no
WizardStyle=modern
UninstallDisplayIcon={app}\{#AppExe}

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "..\..\dist\assistant\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\Licences"; Filename: "{app}\THIRD_PARTY_LICENSES.md"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
; A quick check that the installed app works (engines, one spoken turn, the window).
Filename: "{app}\{#AppExe}"; Parameters: "--self-test"; Flags: runhidden waituntilterminated; StatusMsg: "Checking the installation..."; Check: WizardSilent
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
