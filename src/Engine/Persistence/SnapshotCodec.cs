using Quota.Engine.Accounts;
using Quota.Engine.Model;
using Quota.Engine.Reservations;
using Quota.Engine.Windows;

namespace Quota.Engine.Persistence;

/// <summary>
/// The binary snapshot of an engine's whole state: users, keys with their configuration and counters, and every
/// reservation record (open ones, and finished ones so that repeats keep their replies across a restart), tagged
/// with the sequence number of the last delta record it contains. Only ever written from an engine that no one
/// else touches (the checkpoint builds one by replaying the log), so it is consistent by construction.
/// </summary>
internal static class SnapshotCodec
{
    private const uint Magic = 0x504E_5351; // "QSNP"
    /// <summary>3: a policy's enforcement and its window's shadow refusal count. Version 2 is still read (enforcing, none counted).</summary>
    private const int Version = 3;
    private const int OldestReadableVersion = 2;

    public static void Write(QuotaEngine engine, Stream stream, long sequence)
    {
        using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write(sequence);
        w.Write(engine.Reservations.Epoch);
        w.Write(engine.LastUserId);
        for (int userId = 1; userId <= engine.LastUserId; userId++)
        {
            UserState? user = engine.FindUser(userId);
            w.Write(user is not null);
            if (user is not null)
            {
                WriteBalance(w, user.Wallet);
            }
        }

        w.Write(engine.LastTokenId);
        for (int tokenId = 1; tokenId <= engine.LastTokenId; tokenId++)
        {
            KeyState? key = engine.FindKey(tokenId);
            w.Write(key is not null);
            if (key is not null)
            {
                WriteKey(w, key);
            }
        }

        WriteReservations(w, engine.Reservations);
        w.Write(Magic);
    }

    public static QuotaEngine Read(Stream stream, EngineOptions options, TimeProvider time, out long sequence)
    {
        using var r = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        bool magic = r.ReadUInt32() == Magic;
        int version = r.ReadInt32();
        if (!magic || version is < OldestReadableVersion or > Version)
        {
            throw new InvalidDataException("not a quota engine snapshot of a known version");
        }

        sequence = r.ReadInt64();
        var engine = new QuotaEngine(options, time: time);
        engine.Reservations.RecoverEpoch(r.ReadInt32());
        int lastUserId = r.ReadInt32();
        for (int userId = 1; userId <= lastUserId; userId++)
        {
            if (r.ReadBoolean())
            {
                ReadBalance(r, ref engine.UserFor(userId).Wallet);
            }
        }

        int lastTokenId = r.ReadInt32();
        for (int tokenId = 1; tokenId <= lastTokenId; tokenId++)
        {
            if (r.ReadBoolean())
            {
                ReadKey(r, engine, tokenId, version);
            }
        }

        ReadReservations(r, engine.Reservations);
        if (r.ReadUInt32() != Magic)
        {
            throw new InvalidDataException("snapshot trailer missing: the snapshot is truncated");
        }

        return engine;
    }

    private static void WriteKey(BinaryWriter w, KeyState key)
    {
        w.Write(key.User.UserId);
        KeyConfig config = key.Config;
        w.Write(config.StatusWord);
        w.Write(config.Unlimited);
        w.Write(config.ExpiresAtMs);
        WriteBalance(w, key.Budget);
        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
        {
            PolicySlot? slot = key.Slots?[index];
            w.Write(slot is not null);
            if (slot is null)
            {
                continue;
            }

            WriteSpec(w, slot.Config.Spec);
            (long headroom, long used, long quota, long shadowRefusals) = slot.Cell.RawWords;
            w.Write(headroom);
            w.Write(used);
            w.Write(quota);
            w.Write(shadowRefusals);
            w.Write(slot.Cell.WindowStartMs);
            w.Write(slot.Cell.WindowEndMs);
            w.Write(slot.ExhaustedAtMs);
            w.Write((byte)slot.PausedFromStatus);
            w.Write(slot.PausedGeneration);
            w.Write(slot.Removed);
        }
    }

    private static void ReadKey(BinaryReader r, QuotaEngine engine, int tokenId, int version)
    {
        KeyState key = engine.KeyFor(tokenId, r.ReadInt32());
        int statusWord = r.ReadInt32();
        bool unlimited = r.ReadBoolean();
        long expiresAtMs = r.ReadInt64();
        ReadBalance(r, ref key.Budget);
        for (int index = 0; index < EngineLimits.PoliciesPerKeyMax; index++)
        {
            if (!r.ReadBoolean())
            {
                continue;
            }

            PolicySlot slot = QuotaEngine.SlotFor(key, index);
            QuotaPolicySpec spec = ReadSpec(r, version);
            slot.Config = new PolicyConfig(spec, WindowRule.Create(spec.Mode, spec.CustomMinutes, spec.AnchorMs, spec.TimeZone), engine.Options.AlertThresholdsPercent);
            long headroom = r.ReadInt64(), used = r.ReadInt64(), quota = r.ReadInt64();
            long shadowRefusals = version >= 3 ? r.ReadInt64() : WindowWord.Pack(WindowWord.Generation(used), 0);
            slot.Cell.RestoreRaw(headroom, used, quota, shadowRefusals, r.ReadInt64(), r.ReadInt64());
            slot.ExhaustedAtMs = r.ReadInt64();
            slot.PausedFromStatus = (TokenStatus)r.ReadByte();
            slot.PausedGeneration = r.ReadUInt16();
            slot.Removed = r.ReadBoolean();
        }

        key.Publish((TokenStatus)(statusWord & KeyConfig.OperatorStatusMask), unlimited, expiresAtMs, (statusWord & KeyConfig.DeletedFlag) != 0);
    }

    private static void WriteSpec(BinaryWriter w, QuotaPolicySpec spec)
    {
        w.Write(spec.Enabled);
        w.Write((byte)spec.Mode);
        w.Write(spec.CustomMinutes);
        w.Write(spec.QuotaUnits);
        w.Write(spec.AnchorMs);
        w.Write(spec.TimeZone);
        w.Write((byte)spec.ExhaustedAction);
        w.Write((byte)spec.BoundaryMode);
        w.Write(spec.AutoResume);
        w.Write((byte)spec.Metric);
        w.Write((byte)spec.Enforcement);
        w.Write(spec.Models.Count);
        foreach (string model in spec.Models)
        {
            w.Write(model);
        }
    }

    private static QuotaPolicySpec ReadSpec(BinaryReader r, int version) => new()
    {
        Enabled = r.ReadBoolean(),
        Mode = (PeriodMode)r.ReadByte(),
        CustomMinutes = r.ReadInt32(),
        QuotaUnits = r.ReadInt64(),
        AnchorMs = r.ReadInt64(),
        TimeZone = r.ReadString(),
        ExhaustedAction = (ExhaustedAction)r.ReadByte(),
        BoundaryMode = (BoundaryMode)r.ReadByte(),
        AutoResume = r.ReadBoolean(),
        Metric = (PolicyMetric)r.ReadByte(),
        Enforcement = version >= 3 ? (PolicyEnforcement)r.ReadByte() : PolicyEnforcement.Enforce,
        Models = ReadModels(r),
    };

    private static string[] ReadModels(BinaryReader r)
    {
        var models = new string[r.ReadInt32()];
        for (int i = 0; i < models.Length; i++)
        {
            models[i] = r.ReadString();
        }

        return models;
    }

    private static void WriteBalance(BinaryWriter w, in BalanceCell cell)
    {
        (long available, long balance, long credited) = cell.RawWords;
        w.Write(available);
        w.Write(balance);
        w.Write(credited);
    }

    private static void ReadBalance(BinaryReader r, ref BalanceCell cell) =>
        cell.RestoreRaw(r.ReadInt64(), r.ReadInt64(), r.ReadInt64());

    private static void WriteReservations(BinaryWriter w, ReservationTable table)
    {
        int count = 0;
        for (int slot = 0; slot < table.Capacity; slot++)
        {
            count += ReservationTable.StateOf(table.StateWordOf(slot)) == ReservationState.Free ? 0 : 1;
        }

        w.Write(count);
        for (int slot = 0; slot < table.Capacity; slot++)
        {
            long word = table.StateWordOf(slot);
            if (ReservationTable.StateOf(word) == ReservationState.Free)
            {
                continue;
            }

            ref ReservationRecord record = ref table[slot];
            w.Write(slot);
            w.Write(word);
            w.Write(record.TokenId);
            w.Write(record.UserId);
            w.Write(record.AmountUnits);
            w.Write(record.TokenUnits);
            w.Write(record.ChargedUnits);
            w.Write(record.ChargedTokens);
            w.Write(record.ExpiresAtMs);
            w.Write(record.Generations);
            w.Write(record.RequestKey);
            w.Write(record.PolicyMask);
            w.Write(record.Exhausted);
        }
    }

    private static void ReadReservations(BinaryReader r, ReservationTable table)
    {
        int count = r.ReadInt32();
        for (int i = 0; i < count; i++)
        {
            int slot = r.ReadInt32();
            long word = r.ReadInt64();
            if ((uint)slot >= (uint)table.Capacity)
            {
                throw new InvalidDataException($"snapshot reservation slot {slot} exceeds ReservationsMax {table.Capacity}: ReservationsMax must not shrink");
            }

            var fields = new ReservationRecord
            {
                TokenId = r.ReadInt32(),
                UserId = r.ReadInt32(),
                AmountUnits = r.ReadInt64(),
                TokenUnits = r.ReadInt64(),
                ChargedUnits = r.ReadInt64(),
                ChargedTokens = r.ReadInt64(),
                ExpiresAtMs = r.ReadInt64(),
                Generations = r.ReadInt64(),
                RequestKey = r.ReadInt64(),
                PolicyMask = r.ReadByte(),
                Exhausted = r.ReadBoolean(),
            };
            table.Restore(table.IdOf(slot, word), ReservationTable.StateOf(word), fields);
        }
    }
}
