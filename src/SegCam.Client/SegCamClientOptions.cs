namespace SegCam.Client;

/// <summary>How a <see cref="SegCamClient"/> connects.</summary>
public sealed record SegCamClientOptions
{
    /// <summary>API key sent as <c>authorization: Bearer &lt;key&gt;</c> on every call; null = none.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Largest message sent or received (the server's limit is in GetServerInfo).</summary>
    public int MaxMessageBytes { get; init; } = 4 << 20;

    /// <summary>Upload chunk size.</summary>
    public int UploadChunkBytes { get; init; } = 1 << 20;

    /// <summary>Custom HTTP handler (TLS validation for self-signed certificates, tests); null = the default.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }
}
