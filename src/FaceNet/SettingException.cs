namespace FaceNet;

/// <summary>A setting that cannot be used as given (an unknown detector or alignment): the message names the setting.</summary>
public sealed class SettingException(string setting, string reason, Exception? inner = null) : FaceNetException(setting, reason, inner,
    kind: FaceNetErrorKind.Setting);
