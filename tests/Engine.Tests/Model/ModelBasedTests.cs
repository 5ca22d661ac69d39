using System.Globalization;
using Quota.Engine.Diagnostics;
using Quota.Engine.Model;
using Quota.Engine.Tests.Support;
using Xunit.Abstractions;

namespace Quota.Engine.Tests.Model;

/// <summary>
/// Random sequences of reserve / settle / refund / expire / manual reset / save policy / update / top-up /
/// delete / advance time (across window boundaries, DST dates in New York and Berlin, month ends and leap
/// days), run against the engine and <see cref="ReferenceModel"/>; every result and every observable number
/// is compared after every step, and the engine's own auditor must find the books balanced.
/// A failure names its seed and step: rerun that seed alone with QUOTA_MODEL_SEED=n.
/// More seeds: QUOTA_MODEL_SEEDS=n (default 40 in CI).
/// </summary>
public sealed class ModelBasedTests(ITestOutputHelper output)
{
    private static readonly string[] StartDates =
    [
        "2026-03-06T12:00:00Z", // New York springs forward on Mar 8
        "2026-03-27T12:00:00Z", // Berlin springs forward on Mar 29
        "2026-10-23T12:00:00Z", // Berlin falls back on Oct 25
        "2026-10-30T12:00:00Z", // New York falls back on Nov 1
        "2026-01-29T12:00:00Z", // month ends
        "2028-02-27T12:00:00Z", // leap day
        "2026-06-27T01:15:00Z",
    ];

    private static readonly string[] Zones = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"];

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        string? one = Environment.GetEnvironmentVariable("QUOTA_MODEL_SEED");
        if (one is not null)
        {
            data.Add(int.Parse(one, CultureInfo.InvariantCulture));
            return data;
        }

        int count = int.TryParse(Environment.GetEnvironmentVariable("QUOTA_MODEL_SEEDS"), out int n) ? n : 40;
        for (int seed = 1; seed <= count; seed++)
        {
            data.Add(seed);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomOperations_MatchTheReferenceModel_AfterEveryStep(int seed)
    {
        var run = new ModelRun(seed, StartDates[seed % StartDates.Length]);
        try
        {
            run.Execute(steps: 400);
        }
        catch (Exception)
        {
            output.WriteLine($"seed {seed} failed at step {run.Step}; last operations:\n{string.Join('\n', run.RecentOperations)}");
            throw;
        }
    }

    /// <summary>
    /// The same random operations on a cluster node: its windows are leased from an in-memory authority (reserves through
    /// the async door, leases reported now and then, free leases given back), and it must still match the model — one
    /// node with leases decides as one engine without them (docs/design.md "Leases"). Left out: what a leased window
    /// deliberately does differently — manual resets (the authority owns the usage) and saves of policies (a quota cut
    /// does not shrink granted leases; a restart keeps the authority's count for the window).
    /// </summary>
    [Theory]
    [MemberData(nameof(Seeds))]
    public void RandomOperations_OnALeasedNode_MatchTheReferenceModel_AfterEveryStep(int seed)
    {
        var run = new ModelRun(seed, StartDates[seed % StartDates.Length], leased: true);
        try
        {
            run.Execute(steps: 400);
        }
        catch (Exception)
        {
            output.WriteLine($"seed {seed} (leased) failed at step {run.Step}; last operations:\n{string.Join('\n', run.RecentOperations)}");
            throw;
        }
    }

    private sealed class ModelRun
    {
        private const long TtlMs = 600_000;
        private readonly Random random;
        private readonly TestEngine t;
        private readonly ReferenceModel model = new(TtlMs);
        private readonly RecordingSink log = new();
        private readonly List<int> users = [];
        private readonly List<int> tokens = [];
        private readonly List<ReservationId> reservations = [];
        private readonly Queue<string> recent = new();

        private readonly QuotaEngine replica;
        private readonly bool leased;
        private readonly Quota.Engine.Leases.InMemoryLeaseAuthority authority = new();
        private int applied;

        public ModelRun(int seed, string start, bool leased = false)
        {
            random = new Random(seed);
            this.leased = leased;
            var options = new EngineOptions { KeysMax = 64, UsersMax = 8, ReservationsMax = 4096, ReservationTtl = TimeSpan.FromMilliseconds(TtlMs), LeasedWindows = leased, LeaseAheadRequests = seed % 3 };
            t = new TestEngine(TestEngine.At(start), options, log, leased ? authority.ForNode(1) : null);
            replica = new QuotaEngine(t.Options);
        }

        public int Step { get; private set; }
        public IEnumerable<string> RecentOperations => recent;

        public void Execute(int steps)
        {
            for (int i = 0; i < 2; i++)
            {
                AddUser();
            }

            for (int i = 0; i < 4; i++)
            {
                AddToken();
            }

            CompareAll();
            for (Step = 1; Step <= steps; Step++)
            {
                RunOneOperation();
                CompareAll();
                ReplayNewRecords();
            }

            // Restart equality: replaying the delta records rebuilds exactly this state (invariant 5).
            Assert.Equal(EngineState.Describe(t.Engine, t.NowMs), EngineState.Describe(log.Replay(t.Options), t.NowMs));
        }

        /// <summary>
        /// Invariant 7: the log replayed one record at a time passes the auditor after every record, and at every
        /// operation's end equals the live engine — so every prefix of the log is a state a serial history reached.
        /// </summary>
        private void ReplayNewRecords()
        {
            var records = log.Records;
            for (; applied < records.Count; applied++)
            {
                replica.Apply(records[applied].Record, records[applied].Payload);
                Assert.Empty(Quota.Engine.Diagnostics.ConservationAudit.Check(replica));
            }

            Assert.Equal(EngineState.Describe(t.Engine, t.NowMs), EngineState.Describe(replica, t.NowMs));
        }

        private void Log(string operation)
        {
            recent.Enqueue($"#{Step} @{DateTimeOffset.FromUnixTimeMilliseconds(t.NowMs):O} {operation}");
            if (recent.Count > 25)
            {
                recent.Dequeue();
            }
        }

        private void RunOneOperation()
        {
            int roll = random.Next(100);
            if (leased && roll is (>= 28 and < 32) or (>= 76 and < 90))
            {
                ReportLeases(); // in place of what a leased window does differently: racing saves, manual resets, saves
                return;
            }

            switch (roll)
            {
                case < 28: Reserve(); break;
                case < 32: ReserveRacingASave(); break;
                case < 50: Settle(); break;
                case < 58: Refund(); break;
                case < 72: AdvanceTime(); break;
                case < 76: Expire(); break;
                case < 80: ManualReset(); break;
                case < 87: SavePolicies(); break;
                case < 90: UpdateFields(); break;
                case < 93: TopUp(); break;
                case < 94: Delete(); break;
                case < 97: Roll(); break;
                default: AddToken(); break;
            }
        }

        private void AddUser()
        {
            long quota = random.Next(2) == 0 ? 5_000 : 1_000_000;
            SaveOutcome outcome = t.Engine.CreateUser(quota);
            model.Users[outcome.Id] = new ReferenceModel.User { Balance = quota };
            users.Add(outcome.Id);
        }

        private void AddToken()
        {
            if (tokens.Count >= 12)
            {
                return;
            }

            var spec = new TokenSpec
            {
                UserId = users[random.Next(users.Count)],
                RemainQuotaUnits = random.Next(3) == 0 ? 300 : 100_000,
                UnlimitedQuota = random.Next(6) == 0,
                Policies = RandomPolicies(valid: true),
            };
            SaveOutcome outcome = t.Engine.CreateToken(spec, t.NowMs);
            Log($"create token {outcome.Id} with {spec.Policies.Count} policies");
            Assert.True(outcome.IsOk, outcome.Error.ToString());
            var key = new ReferenceModel.Key(spec.UserId) { Remain = spec.RemainQuotaUnits, Unlimited = spec.UnlimitedQuota };
            model.Keys[outcome.Id] = key;
            model.SavePolicies(outcome.Id, key, spec.Policies, t.NowMs);
            tokens.Add(outcome.Id);
        }

        private int AnyToken() => random.Next(40) == 0 ? 999 : tokens[random.Next(tokens.Count)];

        private void Reserve()
        {
            int token = AnyToken();
            long amount = RandomAmount(token);
            long tokens = random.Next(4) == 0 ? 0 : random.Next(1, 400);
            string? modelName = Models[random.Next(Models.Length)];
            Log($"reserve token {token} amount {amount} tokens {tokens} model {modelName ?? "-"}");
            ReserveOutcome actual = ReserveOnNode(token, new ReserveRequest(amount, tokens, modelName));
            ReserveOutcome expected = model.Reserve(token, amount, tokens, modelName, t.NowMs, () => actual.Id);
            Assert.Equal(expected with { Id = actual.Id }, actual);
            if (actual.IsOk)
            {
                reservations.Add(actual.Id);
            }
        }

        /// <summary>
        /// A reserve with a save of the same key run in its middle — after it read the key's configuration, or after it
        /// held its accounts or was refused (docs/design.md "Invariants", configuration publication). The save changes
        /// policies (metrics, scopes, quotas, boundaries, enabled), the status or the budget; the reserve must come out as
        /// the reserve after the save, decided under the new configuration whole. A reserve refused before it reads any
        /// configuration (an unknown key, a bad amount) runs no save: then the save follows it.
        /// </summary>
        private void ReserveRacingASave()
        {
            int token = AnyToken();
            long amount = RandomAmount(token);
            long tokens = random.Next(4) == 0 ? 0 : random.Next(1, 400);
            string? modelName = Models[random.Next(Models.Length)];
            TokenUpdate update = random.Next(4) switch
            {
                0 => new TokenUpdate { Status = random.Next(2) == 0 ? TokenStatus.Enabled : TokenStatus.Disabled, Policies = RandomPolicies(valid: true) },
                1 => new TokenUpdate { RemainQuotaUnits = random.Next(0, 2000), UnlimitedQuota = random.Next(3) == 0 },
                _ => new TokenUpdate { Policies = RandomPolicies(valid: random.Next(12) != 0) },
            };
            RaceHooks.Point point = random.Next(2) == 0 ? RaceHooks.Point.ReserveConfigurationRead : RaceHooks.Point.ReserveDecided;
            Log($"reserve token {token} amount {amount} tokens {tokens} model {modelName ?? "-"} racing at {point} {update}");
            SaveOutcome? saved = null;
            ReserveOutcome actual;
            using (RaceHook.At(point, () =>
            {
                model.RollDue(token, t.NowMs); // the reserve rolled its due windows before it read the configuration
                saved = t.Engine.UpdateToken(token, update, t.NowMs);
            }))
            {
                actual = t.Engine.Reserve(token, new ReserveRequest(amount, tokens, modelName), t.NowMs);
            }

            ReserveOutcome expected;
            if (saved is { } inside)
            {
                Assert.Equal(model.Update(token, update, t.NowMs), inside);
                expected = model.Reserve(token, amount, tokens, modelName, t.NowMs, () => actual.Id);
            }
            else
            {
                expected = model.Reserve(token, amount, tokens, modelName, t.NowMs, () => actual.Id);
                Assert.Equal(model.Update(token, update, t.NowMs), t.Engine.UpdateToken(token, update, t.NowMs));
            }

            Assert.Equal(expected with { Id = actual.Id }, actual);
            if (actual.IsOk)
            {
                reservations.Add(actual.Id);
            }
        }

        private long RandomAmount(int token)
        {
            long quota = model.Keys.TryGetValue(token, out ReferenceModel.Key? key) && key.Policies.FirstOrDefault(p => p is { Active: true }) is { } p
                ? p.Spec.QuotaUnits
                : 100;
            return random.Next(10) switch
            {
                0 => 1,
                1 => quota - 1,
                2 => quota,
                3 => quota + 1,
                4 => random.Next(30) == 0 ? 0 : 2,
                5 when key?.Policies.FirstOrDefault(x => x is { Active: true }) is { } first => Math.Max(1, first.Spec.QuotaUnits - first.Used - first.Reserved),
                _ => random.Next(1, 121),
            };
        }

        private ReservationId AnyReservation() =>
            reservations.Count == 0 || random.Next(30) == 0
                ? ReservationId.From(random.Next(4096), (uint)random.Next(1, 5))
                : reservations[random.Next(reservations.Count)];

        private void Settle()
        {
            ReservationId id = AnyReservation();
            long estimate = model.Reservations.TryGetValue(id.Value, out ReferenceModel.Reservation? r) ? r.Amount : 50;
            long actual = random.Next(6) switch
            {
                0 => 0,
                1 => estimate,
                2 => estimate + 1,
                3 => Math.Max(0, estimate - 1),
                4 => random.Next(40) == 0 ? -1 : estimate * 3,
                _ => random.Next(0, 200),
            };
            long actualTokens = random.Next(4) switch { 0 => -1, 1 => 0, _ => random.Next(0, 600) };
            Log($"settle {id} actual {actual} tokens {actualTokens}");
            Assert.Equal(model.Settle(id, actual, actualTokens, t.NowMs), t.Engine.Settle(id, actual, actualTokens, t.NowMs));
        }

        private void ReportLeases()
        {
            bool giveBack = random.Next(3) == 0;
            Log($"report leases{(giveBack ? ", giving free leases back" : "")}");
            ValueTask<int> report = t.Engine.ReportLeasesAsync(t.NowMs, giveBack);
            _ = report.IsCompletedSuccessfully ? report.Result : throw new InvalidOperationException("an in-memory authority answers at once");
        }

        /// <summary>A reserve through the door the node uses: leased, the async one (it completes at once with an in-memory authority).</summary>
        private ReserveOutcome ReserveOnNode(int token, ReserveRequest request)
        {
            if (!leased)
            {
                return t.Engine.Reserve(token, request, t.NowMs);
            }

            ValueTask<ReserveOutcome> reserve = t.Engine.ReserveAsync(token, request, t.NowMs);
            return reserve.IsCompletedSuccessfully ? reserve.Result : throw new InvalidOperationException("an in-memory authority answers at once");
        }

        private void Refund()
        {
            ReservationId id = AnyReservation();
            Log($"refund {id}");
            Assert.Equal(model.Refund(id), t.Engine.Refund(id, t.NowMs));
        }

        private void AdvanceTime()
        {
            long boundary = model.Keys.Values.SelectMany(k => k.Policies).Where(p => p is { Active: true })
                .Select(p => p!.EndMs).DefaultIfEmpty(t.NowMs + 1).Min();
            long next = random.Next(8) switch
            {
                0 => t.NowMs + 1,
                1 => Math.Max(t.NowMs, boundary - 1),
                2 => Math.Max(t.NowMs, boundary),
                3 => Math.Max(t.NowMs, boundary + 1),
                4 => t.NowMs + TtlMs,
                5 => t.NowMs + random.NextInt64(3_600_000, 3 * 86_400_000L),
                _ => t.NowMs + random.NextInt64(1_000, 1_200_000),
            };
            Log($"advance {next - t.NowMs} ms");
            t.NowMs = next;
        }

        private void Expire()
        {
            Log("expire due");
            t.Engine.ExpireDue(t.NowMs);
            model.ExpireDue(t.NowMs);
        }

        private void Roll()
        {
            Log("roll due windows");
            t.Engine.RollDueWindows(t.NowMs);
            model.RollAllDue(t.NowMs);
        }

        private void ManualReset()
        {
            int token = AnyToken();
            int index = random.Next(3) == 0 ? random.Next(-1, 5) : -1;
            Log($"manual reset token {token} policy {index}");
            Assert.Equal(model.ResetPolicies(token, index, t.NowMs), t.Engine.ResetPolicies(token, index, t.NowMs));
        }

        private void SavePolicies()
        {
            int token = AnyToken();
            var update = new TokenUpdate { Policies = RandomPolicies(valid: random.Next(12) != 0) };
            Log($"save {update.Policies!.Count} policies on token {token}: {string.Join("; ", update.Policies!.Select(Describe))}");
            Assert.Equal(model.Update(token, update, t.NowMs), t.Engine.UpdateToken(token, update, t.NowMs));
        }

        private void UpdateFields()
        {
            int token = AnyToken();
            var update = random.Next(4) switch
            {
                0 => new TokenUpdate { Status = random.Next(2) == 0 ? TokenStatus.Enabled : TokenStatus.Disabled },
                1 => new TokenUpdate { RemainQuotaUnits = random.Next(0, 2000) },
                2 => new TokenUpdate { UnlimitedQuota = random.Next(2) == 0 },
                _ => new TokenUpdate { ExpiresAtMs = random.Next(2) == 0 ? -1 : t.NowMs + random.Next(1, 3_600_000) },
            };
            Log($"update token {token}: {update}");
            Assert.Equal(model.Update(token, update, t.NowMs), t.Engine.UpdateToken(token, update, t.NowMs));
        }

        private void TopUp()
        {
            int user = random.Next(10) == 0 ? 7 : users[random.Next(users.Count)];
            long delta = random.Next(2) == 0 ? random.Next(1, 5000) : -random.Next(1, 5000);
            Log($"credit user {user} {delta}");
            Assert.Equal(model.Credit(user, delta), t.Engine.CreditUser(user, delta));
        }

        private void Delete()
        {
            int token = AnyToken();
            Log($"delete token {token}");
            Assert.Equal(model.Delete(token), t.Engine.DeleteToken(token, t.NowMs) == SpecError.None);
        }

        private static readonly string?[] Models = ["gpt-4o", "gpt-4o-mini", "claude-3-haiku", null];
        private static readonly string[][] Scopes = [["gpt-4o"], ["gpt-4*"], ["claude-*", "gpt-4o-mini"], ["*"]];

        private QuotaPolicySpec[] RandomPolicies(bool valid)
        {
            int count = random.Next(4) == 0 ? 0 : random.Next(1, 4);
            var policies = new QuotaPolicySpec[count];
            for (int i = 0; i < count; i++)
            {
                policies[i] = RandomPolicy();
            }

            if (!valid && count > 0)
            {
                policies[random.Next(count)] = policies[0] with { QuotaUnits = 0, Enabled = true };
            }

            return policies;
        }

        private QuotaPolicySpec RandomPolicy()
        {
            var mode = (PeriodMode)random.Next(1, 6);
            long anchor = t.NowMs + random.NextInt64(-4 * 86_400_000L, 86_400_000L);
            if (mode == PeriodMode.Monthly && random.Next(2) == 0)
            {
                var now = DateTimeOffset.FromUnixTimeMilliseconds(t.NowMs);
                anchor = new DateTimeOffset(now.Year, 1, 31, random.Next(24), 30, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
            }

            var metric = (PolicyMetric)random.Next(3);
            return new QuotaPolicySpec
            {
                Enabled = random.Next(8) != 0,
                Mode = mode,
                Metric = metric,
                Models = random.Next(3) == 0 ? Scopes[random.Next(Scopes.Length)] : [],
                CustomMinutes = mode == PeriodMode.Custom ? random.Next(metric == PolicyMetric.Quota ? 10 : 1, 600) : 0,
                QuotaUnits = random.Next(50, 300),
                AnchorMs = anchor,
                TimeZone = mode is PeriodMode.Daily or PeriodMode.Weekly or PeriodMode.Monthly ? Zones[random.Next(Zones.Length)] : "UTC",
                BoundaryMode = (BoundaryMode)random.Next(2),
                ExhaustedAction = (ExhaustedAction)random.Next(2),
                AutoResume = random.Next(3) != 0,
                Enforcement = random.Next(3) == 0 ? PolicyEnforcement.Shadow : PolicyEnforcement.Enforce,
            };
        }

        private static string Describe(QuotaPolicySpec p) =>
            $"{(p.Enabled ? "" : "off ")}{p.Mode}/{p.CustomMinutes} {p.Metric} [{string.Join(',', p.Models)}] q={p.QuotaUnits} {p.BoundaryMode} {p.ExhaustedAction} {p.Enforcement} resume={p.AutoResume} {p.TimeZone} anchor={DateTimeOffset.FromUnixTimeMilliseconds(p.AnchorMs):O}";

        private void CompareAll()
        {
            foreach ((int userId, ReferenceModel.User expected) in model.Users)
            {
                Assert.Equal(new UserView(userId, expected.Balance, expected.Used, expected.Reserved), t.Engine.ReadUser(userId));
            }

            foreach ((int tokenId, ReferenceModel.Key key) in model.Keys)
            {
                CompareToken(tokenId, key);
            }

            var expectedAudit = model.Audit.OrderBy(a => a.ToString()).ToArray();
            var actualAudit = t.Audit.Events.Select(e => (e.Action, e.TokenId, e.PolicyIndex)).OrderBy(a => a.ToString()).ToArray();
            Assert.Equal(expectedAudit, actualAudit);
            Assert.Empty(ConservationAudit.Check(t.Engine));
        }

        private void CompareToken(int tokenId, ReferenceModel.Key key)
        {
            TokenView? view = t.Engine.ReadToken(tokenId, t.NowMs);
            if (key.Deleted)
            {
                Assert.Null(view);
                return;
            }

            Assert.NotNull(view);
            var expected = new
            {
                key.Status,
                Paused = key.Policies.Any(p => p is { Paused: true }),
                Expired = key.ExpiresAtMs != -1 && t.NowMs >= key.ExpiresAtMs,
                key.Remain,
                key.Unlimited,
                key.Used,
                key.Reserved,
                key.ExpiresAtMs,
            };
            Assert.Equal(expected, new
            {
                Status = view.OperatorStatus,
                view.Paused,
                view.Expired,
                Remain = view.RemainQuotaUnits,
                Unlimited = view.UnlimitedQuota,
                Used = view.UsedQuotaUnits,
                Reserved = view.ReservedQuotaUnits,
                view.ExpiresAtMs,
            });

            var expectedPolicies = Enumerable.Range(0, 4).Where(i => key.Policies[i] is { Removed: false }).Select(i =>
            {
                ReferenceModel.Policy p = key.Policies[i]!;
                bool on = p.Spec.Enabled;
                bool recovering = p.Paused && (p.PausedGeneration != p.Generation || t.NowMs >= p.EndMs);
                return new PolicyView(i, p.Spec, on ? p.Used : 0, on ? p.Reserved : 0, on ? p.StartMs : 0, on ? p.EndMs : 0,
                    p.ExhaustedAtMs, p.PausedFrom, p.Paused, recovering, on ? p.ShadowRefusals : 0);
            }).ToArray();
            Assert.Equal(expectedPolicies, view.Policies.ToArray());
        }
    }
}
