using System.Buffers.Binary;
using Quota.Engine.Leases;
using Quota.Engine.Model;
using Quota.Engine.Persistence;
using Quota.Engine.Tests.Support;
using static Quota.Engine.Tests.Support.TestEngine;

namespace Quota.Engine.Tests.Persistence;

public sealed class DeltaRecordCodecTests
{
    private static readonly ReservationId Id = new(0x0102_0304_0506_0708);

    /// <summary>One record of every kind, built by its factory with distinct values in every field it has.</summary>
    private static readonly DeltaRecord[] Samples =
    [
        DeltaRecord.Reserve(Id, 123_456, 789, 0b1011, shadowRefusedMask: 0b0100, EngineLimits.AmountMaxUnits, EngineLimits.TokensMax, 1_782_532_500_000, 0x0003_0002_0001, requestKey: -7),
        DeltaRecord.Settle(Id, 123_456, 789, 99, 1234, 1_782_532_500_001, exhaustedReply: true, new SettleMarks(0b0101, 0b0100, TokenStatus.Disabled)),
        DeltaRecord.Settle(Id, 123_456, 789, 42, 0, 1_782_532_500_002, exhaustedReply: false, default, expired: true),
        DeltaRecord.Refund(Id, 123_456, 789, 42, 1_782_532_500_003),
        DeltaRecord.KeepAlive(Id, 123_456, 789, 1_782_532_900_000),
        DeltaRecord.WindowReset(123_456, 789, 3, ushort.MaxValue, EngineLimits.PolicyQuotaMaxUnits, 1_782_500_000_000, 1_782_600_000_000, leased: true, restores: true, 1_782_532_500_004),
        DeltaRecord.ManualReset(123_456, 789, 2, 5_000, restores: true, 1_782_532_500_005),
        DeltaRecord.UserCredit(789, -EngineLimits.BalanceMaxUnits, 1_782_532_500_006),
        DeltaRecord.TokenSave(123_456, 789, 1_782_532_500_007),
        DeltaRecord.TokenDelete(123_456, 789, 1_782_532_500_008),
        DeltaRecord.RunStarted(ReservationId.EpochMax, 1_782_532_500_009),
        DeltaRecord.LeaseGrant(123_456, 789, 1, 0xFFFE, EngineLimits.PolicyQuotaMaxUnits, 1_782_532_500_010),
        DeltaRecord.LeaseReport(123_456, 789, 2, 0x1234, chargedUnits: 77, givenBackUnits: 88, closing: true, 1_782_532_500_011),
    ];

    [Fact]
    public void EveryKind_HasASample()
    {
        Assert.Equal(Enum.GetValues<DeltaKind>().Order(), Samples.Select(s => s.Kind).Distinct().Order());
    }

    [Fact]
    public void EveryKind_RoundTrips_WithItsMeaningIntact()
    {
        foreach (DeltaRecord sample in Samples)
        {
            var buffer = new byte[DeltaRecordCodec.RecordBytes];
            DeltaRecordCodec.Write(buffer, sample, sequence: 99);

            Assert.Equal(DecodeStatus.Ok, DeltaRecordCodec.TryRead(buffer, out DeltaRecord record, out long sequence, out ReadOnlySpan<byte> payload, out int size));
            Assert.Equal((sample, 99L, 0, DeltaRecordCodec.RecordBytes), (record, sequence, payload.Length, size));
        }

        // Read back by meaning, not by position: a swapped argument in a factory shows here.
        DeltaRecord[] decoded = Samples.Select(RoundTrip).ToArray();
        Assert.Equal((Id, 0b1011, 0b0100, EngineLimits.AmountMaxUnits, EngineLimits.TokensMax, 1_782_532_500_000L, 0x0003_0002_0001L, -7L),
            (decoded[0].ReservationId, decoded[0].PolicyMask, decoded[0].ShadowRefusedMask, decoded[0].EstimateUnits, decoded[0].TokenEstimate, decoded[0].ExpiresAtMs, decoded[0].Generations, decoded[0].RequestKey));
        Assert.Equal((99L, 1234L, true, new SettleMarks(0b0101, 0b0100, TokenStatus.Disabled)),
            (decoded[1].ChargedUnits, decoded[1].ChargedTokens, decoded[1].ExhaustedReply, decoded[1].Marks));
        Assert.Equal((DeltaKind.Expire, false, default(SettleMarks)), (decoded[2].Kind, decoded[2].ExhaustedReply, decoded[2].Marks));
        Assert.Equal((3, ushort.MaxValue, EngineLimits.PolicyQuotaMaxUnits, 1_782_500_000_000L, 1_782_600_000_000L, true),
            (decoded[5].PolicyIndex, decoded[5].Generation, decoded[5].QuotaUnits, decoded[5].WindowStartMs, decoded[5].WindowEndMs, decoded[5].Restores));
        Assert.Equal((2, 5_000L, true), (decoded[6].PolicyIndex, decoded[6].ClearedUnits, decoded[6].Restores));
        Assert.Equal(-EngineLimits.BalanceMaxUnits, decoded[7].DeltaUnits);
        Assert.Equal(ReservationId.EpochMax, decoded[10].Epoch);
        Assert.Equal((1, (ushort)0xFFFE, EngineLimits.PolicyQuotaMaxUnits), (decoded[11].PolicyIndex, decoded[11].Generation, decoded[11].GrantedUnits));
        Assert.Equal((2, (ushort)0x1234, 77L, 88L, true), (decoded[12].PolicyIndex, decoded[12].Generation, decoded[12].ReportedChargedUnits, decoded[12].GivenBackUnits, decoded[12].Closing));
    }

    [Fact]
    public void AVersion2Record_IsStillRead_WithNoShadowRefusals()
    {
        var buffer = new byte[DeltaRecordCodec.RecordBytes];
        DeltaRecordCodec.Write(buffer, DeltaRecord.Reserve(Id, 7, 8, 0b0011, 0, 50, 0, 1_782_532_500_000, 0x0001_0001, 0), sequence: 5);
        buffer[0] = 2; // written before shadow policies
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(12), DeltaRecordCodec.HeadChecksum(buffer));

        Assert.Equal(DecodeStatus.Ok, DeltaRecordCodec.TryRead(buffer, out DeltaRecord record, out _, out _, out _));
        Assert.Equal((0b0011, 0, 50L), (record.PolicyMask, record.ShadowRefusedMask, record.EstimateUnits));
        buffer[0] = DeltaRecordCodec.CurrentVersion + 1;
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(12), DeltaRecordCodec.HeadChecksum(buffer));
        Assert.Equal(DecodeStatus.UnknownVersion, DeltaRecordCodec.TryRead(buffer, out _, out _, out _, out _));
    }

    [Fact]
    public void EveryKindALiveEngineWrites_ReplaysThroughTheCodec_ToTheSameState()
    {
        var sink = new RecordingSink();
        var t = new TestEngine(deltas: sink);
        int user = t.User(10_000);
        int token = t.Token(user, 1000, Policy(100, action: ExhaustedAction.DisableToken), Policy(500, PeriodMode.Daily, timeZone: "Asia/Kathmandu"),
            Policy(5000) with { Metric = PolicyMetric.Tokens, Models = ["gpt-4*"] }, Policy(10, PeriodMode.Custom, customMinutes: 1) with { Metric = PolicyMetric.Requests });
        ReserveOutcome kept = t.Engine.Reserve(token, new ReserveRequest(30, Tokens: 700, Model: "gpt-4o", RequestKey: 0x5eed), t.NowMs);
        Assert.Equal(KeepAliveResult.Ok, t.Engine.KeepAlive(kept.Id, t.NowMs + 1000));
        t.Settle(t.ReserveOk(token, 60), 120);                      // exhausts and pauses: marks ride on the settle
        Assert.Equal(SpecError.None, t.Engine.ResetPolicies(token, 0, t.NowMs)); // manual reset, restores
        t.Refund(t.ReserveOk(token, 5));
        t.Engine.UpdateToken(token, new TokenUpdate { RemainQuotaUnits = 700, Policies = [Policy(50, action: ExhaustedAction.DisableToken)] }, t.NowMs);
        t.Settle(t.ReserveOk(token, 10), 60);                       // pauses again
        t.Advance(TimeSpan.FromHours(6));
        t.Engine.RollDueWindows(t.NowMs);                           // rollover, auto restore
        t.Advance(TimeSpan.FromHours(1));
        t.Engine.ExpireDue(t.NowMs);
        t.Engine.CreditUser(user, -100);
        Assert.Equal(SpecError.None, t.Engine.DeleteToken(t.Token(user, 5), t.NowMs));

        var replayed = new QuotaEngine(t.Options);
        foreach ((DeltaRecord record, byte[]? payload) in sink.Records)
        {
            var buffer = new byte[DeltaRecordCodec.SizeOf(payload?.Length ?? 0)];
            DeltaRecordCodec.Write(buffer, record, 1, payload);
            Assert.Equal(DecodeStatus.Ok, DeltaRecordCodec.TryRead(buffer, out DeltaRecord decoded, out _, out ReadOnlySpan<byte> decodedPayload, out _));
            replayed.Apply(decoded, decodedPayload);
        }

        Assert.Equal(EngineState.Describe(t.Engine, t.NowMs), EngineState.Describe(replayed, t.NowMs));
        DeltaKind[] written = sink.Records.Select(r => r.Record.Kind).Distinct().ToArray();
        DeltaKind[] leaseKinds = [DeltaKind.LeaseGrant, DeltaKind.LeaseReport]; // written by leased engines: the test below
        Assert.Equal(Enum.GetValues<DeltaKind>().Where(k => k != DeltaKind.RunStarted && !leaseKinds.Contains(k)).Order(), written.Order()); // RunStarted: PersistentEngineTests
    }

    [Fact]
    public async Task EveryLeaseKindALeasedEngineWrites_ReplaysThroughTheCodec_ToTheSameState()
    {
        var sink = new RecordingSink();
        var authority = new InMemoryLeaseAuthority();
        var options = new EngineOptions { KeysMax = 64, UsersMax = 8, ReservationsMax = 1024, LeasedWindows = true };
        var engine = new QuotaEngine(options, sink, leases: authority.ForNode(1));
        long now = T0;
        int token = engine.CreateToken(new TokenSpec { UserId = engine.CreateUser(10_000).Id, RemainQuotaUnits = 5_000, Policies = [Policy(1_000), Policy(300, PeriodMode.Daily, BoundaryMode.Strict)] }, now).Id;
        Assert.True((await engine.ReserveAsync(token, new ReserveRequest(40), now)).IsOk);             // a grant; left open
        ReserveOutcome settled = await engine.ReserveAsync(token, new ReserveRequest(50), now);
        Assert.Equal(FinishResult.Ok, engine.Settle(settled.Id, 45, now).Result);
        Assert.True(await engine.ReportLeasesAsync(now) > 0);                                           // charges reported
        now += (long)TimeSpan.FromHours(6).TotalMilliseconds;
        engine.RollDueWindows(now);                                                                      // policy 0's window ends: a closing report
        Assert.True((await engine.ReserveAsync(token, new ReserveRequest(10), now)).IsOk);
        Assert.True(await engine.ReportLeasesAsync(now, giveBackFree: true) > 0);                       // the closing, and free leases given back

        var replayed = new QuotaEngine(options);
        foreach ((DeltaRecord record, byte[]? payload) in sink.Records)
        {
            var buffer = new byte[DeltaRecordCodec.SizeOf(payload?.Length ?? 0)];
            DeltaRecordCodec.Write(buffer, record, 1, payload);
            Assert.Equal(DecodeStatus.Ok, DeltaRecordCodec.TryRead(buffer, out DeltaRecord decoded, out _, out ReadOnlySpan<byte> decodedPayload, out _));
            replayed.Apply(decoded, decodedPayload);
        }

        Assert.Equal(EngineState.Describe(engine, now), EngineState.Describe(replayed, now));
        Assert.Equal(LeaseWords(engine, token), LeaseWords(replayed, token));
        DeltaKind[] written = sink.Records.Select(r => r.Record.Kind).Distinct().ToArray();
        Assert.Contains(DeltaKind.LeaseGrant, written);
        Assert.Contains(sink.Records, r => r.Record.Kind == DeltaKind.LeaseReport && r.Record.Closing);
        Assert.Contains(sink.Records, r => r.Record.Kind == DeltaKind.LeaseReport && !r.Record.Closing && r.Record.GivenBackUnits > 0);
    }

    private static string LeaseWords(QuotaEngine engine, int token)
    {
        var text = new System.Text.StringBuilder();
        foreach (Quota.Engine.Accounts.PolicySlot? slot in engine.FindKey(token)!.Slots!)
        {
            if (slot is not null)
            {
                text.Append($"{slot.Cell.Generation}: headroom {slot.Cell.Headroom} leased {slot.Cell.Leased} reported {slot.Cell.Reported} closing {slot.Closing}; ");
            }
        }

        return text.ToString();
    }

    [Fact]
    public void ARecordWithAPayload_RoundTrips()
    {
        byte[] payload = "{\"policies\":[]}"u8.ToArray();
        var buffer = new byte[DeltaRecordCodec.SizeOf(payload.Length)];
        DeltaRecordCodec.Write(buffer, DeltaRecord.TokenSave(1, 2, 3), 5, payload);

        Assert.Equal(DecodeStatus.Ok, DeltaRecordCodec.TryRead(buffer, out _, out _, out ReadOnlySpan<byte> read, out int size));
        Assert.Equal(payload, read.ToArray());
        Assert.Equal(buffer.Length, size);
    }

    [Fact]
    public void AnyFlippedBit_IsDetected()
    {
        byte[] payload = [1, 2, 3, 4, 5];
        var clean = new byte[DeltaRecordCodec.SizeOf(payload.Length)];
        DeltaRecordCodec.Write(clean, DeltaRecord.TokenSave(1, 2, 3), 5, payload);
        for (int i = 0; i < clean.Length; i++)
        {
            if (i is >= 64 and < 68)
            {
                continue; // the payload length: a change there is reported as truncation or a checksum error below
            }

            for (int bit = 0; bit < 8; bit++)
            {
                byte[] damaged = (byte[])clean.Clone();
                damaged[i] ^= (byte)(1 << bit);
                Assert.NotEqual(DecodeStatus.Ok, DeltaRecordCodec.TryRead(damaged, out _, out _, out _, out _));
            }
        }
    }

    [Fact]
    public void ATornRecord_IsReportedAsTruncated()
    {
        var buffer = new byte[DeltaRecordCodec.SizeOf(10)];
        DeltaRecordCodec.Write(buffer, DeltaRecord.TokenSave(1, 2, 3), 1, new byte[10]);
        Assert.Equal(DecodeStatus.Truncated, DeltaRecordCodec.TryRead(buffer.AsSpan(0, 40), out _, out _, out _, out _));
        Assert.Equal(DecodeStatus.Truncated, DeltaRecordCodec.TryRead(buffer.AsSpan(0, 70), out _, out _, out _, out _));
    }

    private static DeltaRecord RoundTrip(DeltaRecord record)
    {
        var buffer = new byte[DeltaRecordCodec.RecordBytes];
        DeltaRecordCodec.Write(buffer, record, 1);
        DeltaRecordCodec.TryRead(buffer, out DeltaRecord decoded, out _, out _, out _);
        return decoded;
    }
}
