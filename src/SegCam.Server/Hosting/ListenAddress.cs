using System.Net;
using SegCam.Common.Errors;

namespace SegCam.Server.Hosting;

/// <summary>A parsed HOST:PORT listen address (IPv4, [IPv6] or localhost / any).</summary>
public static class ListenAddress
{
    /// <summary>Parses <paramref name="value"/>; a clear error names what is allowed.</summary>
    public static IPEndPoint Parse(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], out var port) || port is < 0 or > 65535)
        {
            throw new InvalidRequestException($"listen address '{value}' must be HOST:PORT with a port 0..65535, e.g. 127.0.0.1:5055, [::1]:5055 or 0.0.0.0:5055");
        }

        var host = value[..colon].Trim('[', ']');
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        if (host is "*" or "+")
        {
            return new IPEndPoint(IPAddress.Any, port);
        }

        return IPAddress.TryParse(host, out var address)
            ? new IPEndPoint(address, port)
            : throw new InvalidRequestException($"listen host '{host}' is not an IP address; use an address of this machine (127.0.0.1, 0.0.0.0, ::1, …) or localhost");
    }
}
