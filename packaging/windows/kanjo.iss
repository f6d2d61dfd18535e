; Inno Setup script for Kanjo on Windows. Build the bundle first (python dev.py package, on
; Windows), then compile this script with Inno Setup 6:  iscc packaging\windows\kanjo.iss
; It installs per user (no administrator rights); data lives in %LOCALAPPDATA%\kanjo
; (platformdirs), never in the program folder, so upgrades and uninstalls keep it.

#define AppVersion "0.1.0"

[Setup]
AppId={{7C1D5B6E-4F0A-4C86-9B3E-2E8A6B1F4D21}
AppName=Kanjo (勘定)
AppVersion={#AppVersion}
AppPublisher=Kanjo team
DefaultDirName={localappdata}\Programs\Kanjo
DefaultGroupName=Kanjo
PrivilegesRequired=lowest
OutputDir=..\..\build
OutputBaseFilename=kanjo-{#AppVersion}-setup
SetupIconFile=..\..\resources\icons\kanjo.ico
UninstallDisplayIcon={app}\kanjo-window.exe
Compression=lzma2
SolidCompression=yes
ArchitecturesInstallIn64BitMode=x64compatible
WizardStyle=modern

[Languages]
Name: "japanese"; MessagesFile: "compiler:Languages\Japanese.isl"
Name: "english"; MessagesFile: "compiler:Default.isl"

[Files]
Source: "..\..\build\dist\kanjo\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Kanjo (勘定)"; Filename: "{app}\kanjo-window.exe"
Name: "{userdesktop}\Kanjo (勘定)"; Filename: "{app}\kanjo-window.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[Registry]
; Put `kanjo` (the command line) on the user's PATH.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\kanjo-window.exe"; Description: "{cm:LaunchProgram,Kanjo}"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Param: string): boolean;
var
  OrigPath: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', OrigPath) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Param) + ';', ';' + Uppercase(OrigPath) + ';') = 0;
end;
