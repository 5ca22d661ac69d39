using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Quota.Engine.Model;

namespace Quota.Host.Quota;

/// <summary>
/// The quota API's 200 bodies (docs/api.md "Quota API"), written straight into the response with a
/// <see cref="Utf8JsonWriter"/> and a Content-Length: the same JSON the typed results produced (snake_case, the
/// records' field order), without the serializer's per-call setup, the result's logger lookup and chunked framing.
/// Each thread reuses one buffer and one writer; the bytes are copied into the response at once (nothing awaits in between).
/// </summary>
internal static class QuotaResponses
{
    private static readonly JsonEncodedText ReservationIdName = JsonEncodedText.Encode("reservation_id");
    private static readonly JsonEncodedText AmountName = JsonEncodedText.Encode("amount");
    private static readonly JsonEncodedText ExpiresAtName = JsonEncodedText.Encode("expires_at");
    private static readonly JsonEncodedText StateName = JsonEncodedText.Encode("state");
    private static readonly JsonEncodedText ChargedName = JsonEncodedText.Encode("charged");
    private static readonly JsonEncodedText ExhaustedName = JsonEncodedText.Encode("exhausted");
    private static readonly JsonEncodedText Settled = JsonEncodedText.Encode("settled");
    private static readonly JsonEncodedText Refunded = JsonEncodedText.Encode("refunded");

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? buffer;
    [ThreadStatic]
    private static Utf8JsonWriter? writer;

    /// <summary><c>{ "reservation_id", "amount", "expires_at" }</c> (<see cref="ReservedResponse"/>).</summary>
    public static void Reserved(HttpResponse response, ReservationId id, long amountUnits, long expiresAtSeconds)
    {
        Utf8JsonWriter json = Begin(id);
        json.WriteNumber(AmountName, amountUnits);
        json.WriteNumber(ExpiresAtName, expiresAtSeconds);
        End(response);
    }

    /// <summary><c>{ "reservation_id", "state": "settled", "charged", "exhausted" }</c> (<see cref="SettledResponse"/>).</summary>
    public static void Settle(HttpResponse response, ReservationId id, long chargedUnits, bool exhausted)
    {
        Utf8JsonWriter json = Begin(id);
        json.WriteString(StateName, Settled);
        json.WriteNumber(ChargedName, chargedUnits);
        json.WriteBoolean(ExhaustedName, exhausted);
        End(response);
    }

    /// <summary><c>{ "reservation_id", "state": "refunded" }</c> (<see cref="RefundedResponse"/>).</summary>
    public static void Refund(HttpResponse response, ReservationId id)
    {
        Utf8JsonWriter json = Begin(id);
        json.WriteString(StateName, Refunded);
        End(response);
    }

    private static Utf8JsonWriter Begin(ReservationId id)
    {
        ArrayBufferWriter<byte> bytes = buffer ??= new ArrayBufferWriter<byte>(256);
        bytes.ResetWrittenCount();
        Utf8JsonWriter json = writer ??= new Utf8JsonWriter(bytes);
        json.Reset(bytes);
        json.WriteStartObject();
        Span<char> hex = stackalloc char[16];
        id.Value.TryFormat(hex, out int written, "x16", CultureInfo.InvariantCulture); // ReservationId.ToString's format
        json.WriteString(ReservationIdName, hex[..written]);
        return json;
    }

    private static void End(HttpResponse response)
    {
        Utf8JsonWriter json = writer!;
        json.WriteEndObject();
        json.Flush();
        ReadOnlySpan<byte> body = buffer!.WrittenSpan;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = body.Length;
        response.BodyWriter.Write(body); // Kestrel sends it with the headers when the handler returns: no flush of our own
    }
}
