#!/usr/bin/env python3
"""Checks `headcount report` against a model of the SPEC written apart from the Swift code.

Each seed writes a small random dump with the cases the SPEC and the README's choices name,
runs the built binary on it, and compares what it wrote with what this model computes:
`teams.csv` (every column), `audiences.csv`, the file, line and reason of every row in
`rejects.csv`, and `summary.json`'s totals (every count, rejects by reason, rows without a
team) and its histogram of audiences per email. Four kinds of dump take turns:

- values: email keys (Unicode whitespace, full lowercase mapping, every invalid form, the
  254-byte limit, invalid UTF-8), team and audience ids used verbatim, unsubscribed
  spellings, `created_at` forms under `--as-of`, both unsubscribed policies; now and then the
  rows in two files (each reject's file is compared too, files in the order of their paths);
  now and then `--quotas` (limits of 0 and at a team's counts or one either side) and
  `--tiers`, whose columns are compared too;
- rows: the CSV itself (RFC 4180 quoting, line breaks inside quotes, CRLF, a BOM, blank
  lines, wrong field counts, text after a closing quote, a quote that never closes), the
  line each row starts on, and the team of a malformed row;
- join: a contacts file and a memberships file (`unknown_contact`, a membership's `team_id`,
  an empty audience id), the global layout; now and then under `--as-of`, which filters a
  later contact and its memberships (an empty audience id of one too);
- columns: the header (every accepted name, in any case and order, blanks around it; a
  meaning under two accepted names or one name twice; extra columns; no team column and
  `--team`; `--email-column` and `--team-column`; a tab delimiter detected or given).

Each dump reaches the binary one of four ways, which must not change a count: a plain file,
gzip members cut at random bytes under the same `.csv` name (the magic bytes decide), or either
as standard input redirected from the file; with `--threads` 1, 2, 3 or 8; a fifth of the time
under `--memory-limit 1MiB`, where from about 30,000 rows the join of memberships goes to disk,
and from about 400,000 the counting (`--rows 400000 --memory-limit 1MiB` for every seed). A fifth
of the runs allow exactly as many rejects as the model finds (`--max-rejects N`), or one fewer,
when the run must fail with exit 1 and no report. A tenth of the gzip dumps are cut short inside
their last member: the run must fail with exit 1, one line naming the file and a byte offset,
and no report.

    Scripts/spec-model.py [--binary PATH] [--seeds N] [--first S] [--rows N] [--keep DIR]
                          [--memory-limit SIZE] [--kind values|rows|join|columns]

Python 3.11 or later, standard library only. Exit status 1 on the first difference, with the
seed and the lines that differ.
"""
import argparse
import collections
import csv
import datetime
import gzip
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from decimal import Decimal, ROUND_HALF_UP

# ------------------------------------------------------------------------------ the rules

# Unicode White_Space: what the email key trims and what makes an address invalid inside it.
WHITE = set('\t\n\x0b\x0c\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006'
            '\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000')


def email_key(raw: bytes):
    """(key, None) or (None, reason), SPEC §2."""
    try:
        s = raw.decode('utf-8')
    except UnicodeDecodeError:
        return None, 'invalid_utf8'
    a, b = 0, len(s)
    while a < b and s[a] in WHITE:
        a += 1
    while b > a and s[b - 1] in WHITE:
        b -= 1
    s = s[a:b]
    at = s.rfind('@')
    if not s or at <= 0 or at == len(s) - 1:
        return None, 'invalid_email'
    if any(c in WHITE or unicodedata.category(c) == 'Cc' for c in s):
        return None, 'invalid_email'
    if len(s.encode()) > 254:
        return None, 'invalid_email'
    return s.lower(), None


def boolean(raw: bytes):
    """true/false, t/f, 1/0, yes/no in any case, blanks around; empty is false; None otherwise."""
    w = raw.decode('utf-8', 'replace').strip(' \t').lower()
    if w in ('', 'false', 'f', '0', 'no'):
        return False
    if w in ('true', 't', '1', 'yes'):
        return True
    return None


def instant(raw: bytes):
    """A created_at as a UTC datetime, or None when it is none of the SPEC's forms."""
    v = raw.decode('utf-8', 'replace').strip()
    if len(v) == 10:
        try:
            return datetime.datetime.strptime(v, '%Y-%m-%d')
        except ValueError:
            return None
    try:
        d = datetime.datetime.fromisoformat(v)
    except ValueError:
        return None
    return d.astimezone(datetime.timezone.utc).replace(tzinfo=None) if d.tzinfo else d


def valid_utf8(b: bytes) -> bool:
    try:
        b.decode('utf-8')
        return True
    except UnicodeDecodeError:
        return False


def records(data: bytes, delim=0x2C):
    """(line, fields or None, malformed, raw) for each row: RFC 4180 with the README's choices
    (a quote that never closes rejects its row and reading resumes on the next line; text after
    a closing quote makes the row malformed; blank lines are not rows)."""
    QUOTE, LF, CR = 0x22, 0x0A, 0x0D
    pos, n, line = 0, len(data), 1
    if data[:3] == b'\xef\xbb\xbf':
        pos = 3
    while pos < n:
        start, i, newlines, fields, bad = pos, pos, 0, [], False
        while True:
            if i == n:
                fields.append(b'')
                nxt = n
                break
            if data[i] == QUOTE:
                j, close, value = i + 1, -1, bytearray()
                while j < n:
                    c = data[j]
                    if c == QUOTE:
                        if j + 1 < n and data[j + 1] == QUOTE:
                            value.append(QUOTE)
                            j += 2
                            continue
                        close = j
                        break
                    newlines += c == LF
                    value.append(c)
                    j += 1
                if close < 0:
                    fields = None
                    break
                fields.append(bytes(value))
                i = close + 1
                if i == n:
                    nxt = n
                    break
                c = data[i]
                if c == delim:
                    i += 1
                    continue
                if c == LF:
                    nxt = i + 1
                    break
                if c == CR and i + 1 < n and data[i + 1] == LF:
                    nxt = i + 2
                    break
                bad = True
            k = i
            while k < n and data[k] != delim and data[k] != LF:
                k += 1
            if k < n and data[k] == delim:
                fields.append(data[i:k])
                i = k + 1
                continue
            end = k - 1 if k < n and k > i and data[k - 1] == CR else k
            fields.append(data[i:end])
            nxt = min(k + 1, n)
            break
        if fields is None:
            k = data.find(b'\n', start)
            raw = data[start:n if k < 0 else k]
            yield line, None, True, raw[:-1] if raw.endswith(b'\r') else raw
            line += 1
            pos = n if k < 0 else k + 1
            continue
        end = nxt
        if end > start and data[end - 1] == LF:
            end -= 1
            if end > start and data[end - 1] == CR:
                end -= 1
        row_line = line
        line += 1 + newlines
        pos = nxt
        if not bad and fields == [b''] and end == start:
            continue
        yield row_line, fields, bad, data[start:end][:1024]


def first_field_of_raw(raw: bytes):
    """A malformed row's first field (its team here) when it is whole in the raw text."""
    if raw[:1] == b'"':
        k = raw.find(b'"', 1)
        if k < 0 or not (k + 1 == len(raw) or raw[k + 1] == 0x2C):
            return None
        field, end = raw[1:k], k + 1
    else:
        k = raw.find(b',')
        end = len(raw) if k < 0 else k
        field = raw[:end]
        if b'"' in field:
            return None
    return field if end < len(raw) else None


def pct(part: int, whole: int) -> str:
    if whole == 0:
        return '0.00'
    return f'{(Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP):.2f}'


class Model:
    """Counts as the SPEC says, from rows already split."""

    def __init__(self, policy='any'):
        self.policy = policy
        self.quotas = None      # team -> (plan, limit), with --quotas
        self.tiers = None       # [(name, limit, price in cents)], ascending, with --tiers
        self.rows = collections.Counter()
        self.rejected = collections.Counter()
        self.contacts = collections.defaultdict(lambda: {'audiences': set(), 'unsubscribed': []})
        self.rejects = []          # (line, reason)
        self.read = self.filtered = self.without_team = 0

    def count(self, team: bytes, key: str, unsubscribed: bool, audience: bytes):
        contact = self.contacts[(team, key)]
        contact['unsubscribed'].append(unsubscribed)
        if audience:
            contact['audiences'].add(audience)

    def reject(self, line, reason, team, file='contacts.csv'):
        self.rejects.append((file, line, reason))
        if team is None:
            self.without_team += 1
        else:
            self.rejected[team] += 1

    def teams_csv(self) -> bytes:
        out = io.StringIO()
        w = csv.writer(out, lineterminator='\n')
        w.writerow(['team_id', 'contact_rows', 'audiences', 'legacy_contacts', 'global_contacts',
                    'duplicate_records', 'reduction_pct', 'unsubscribed_contacts',
                    'contacts_without_audience', 'rejected_rows']
                   + (['plan', 'contact_limit', 'legacy_usage_pct', 'global_usage_pct', 'legacy_over_limit',
                       'global_over_limit'] if self.quotas is not None else [])
                   + (['legacy_tier', 'global_tier', 'legacy_price', 'global_price', 'price_change']
                      if self.tiers is not None else []))
        for team in sorted(self.rows):
            cs = [c for (t, _), c in self.contacts.items() if t == team]
            legacy = sum(len(c['audiences']) for c in cs)
            duplicates = max(legacy - len(cs), 0)
            pick = any if self.policy == 'any' else all
            w.writerow([team.decode(), self.rows[team],
                        len(set().union(*(c['audiences'] for c in cs))) if cs else 0,
                        legacy, len(cs), duplicates, pct(duplicates, legacy),
                        sum(1 for c in cs if pick(c['unsubscribed'])),
                        sum(1 for c in cs if not c['audiences']), self.rejected[team]]
                       + self.billing(team, legacy, len(cs)))
        return out.getvalue().encode()

    def billing(self, team: bytes, legacy: int, global_: int) -> list:
        """The quota and tier columns: usage of the team's limit (none for a limit of 0, over
        when above it), the cheapest tier covering each count (the top one above it all)."""
        cells = []
        if self.quotas is not None:
            if team in self.quotas:
                plan, limit = self.quotas[team]
                usage = lambda n: pct(n, limit) if limit > 0 else ''
                cells += [plan, limit, usage(legacy), usage(global_), str(legacy > limit).lower(),
                          str(global_ > limit).lower()]
            else:
                cells += [''] * 6
        if self.tiers is not None:
            tier = lambda n: next((t for t in self.tiers if t[1] >= n), self.tiers[-1])
            money = lambda cents: ('-' if cents < 0 else '') + f'{abs(cents) // 100}.{abs(cents) % 100:02d}'
            a, b = tier(legacy), tier(global_)
            cells += [a[0], b[0], money(a[2]), money(b[2]), money(b[2] - a[2])]
        return cells

    def totals(self) -> dict:
        """summary.json's totals (sums over the teams and the inputs) and its histogram of
        audiences per email, in the JSON's own shape."""
        legacy = global_ = duplicates = audiences = unsubscribed = without = 0
        pick = any if self.policy == 'any' else all
        histogram = collections.Counter()
        for team in self.rows:
            cs = [c for (t, _), c in self.contacts.items() if t == team]
            n = sum(len(c['audiences']) for c in cs)
            legacy, global_ = legacy + n, global_ + len(cs)
            duplicates += max(n - len(cs), 0)
            audiences += len(set().union(*(c['audiences'] for c in cs))) if cs else 0
            unsubscribed += sum(1 for c in cs if pick(c['unsubscribed']))
            without += sum(1 for c in cs if not c['audiences'])
            histogram.update(len(c['audiences']) for c in cs)
        reasons = collections.Counter(why for _, _, why in self.rejects)
        totals = {'teams': len(self.rows), 'audiences': audiences, 'contact_rows': sum(self.rows.values()),
                  'legacy_contacts': legacy, 'global_contacts': global_, 'duplicate_records': duplicates,
                  'reduction_pct': float(pct(duplicates, legacy)), 'unsubscribed_contacts': unsubscribed,
                  'contacts_without_audience': without, 'rows_read': self.read,
                  'rows_counted': self.read - len(self.rejects) - self.filtered,
                  'rows_rejected': len(self.rejects), 'rows_filtered': self.filtered,
                  'rejected_by_reason': {k: reasons[k] for k in ('invalid_email', 'invalid_utf8', 'invalid_value',
                                                                 'malformed_row', 'unknown_contact')},
                  'rejected_rows_without_team': self.without_team}
        most = max(list(histogram) + [1])
        return {'totals': totals,
                'audiences_per_email': [{'audiences': k, 'emails': histogram[k]} for k in range(most + 1)]}

    def audiences_csv(self) -> bytes:
        out = io.StringIO()
        w = csv.writer(out, lineterminator='\n')
        w.writerow(['team_id', 'audience_id', 'contacts', 'shared_contacts', 'exclusive_contacts'])
        for team in sorted(self.rows):
            per, shared = collections.Counter(), collections.Counter()
            for (t, _), c in self.contacts.items():
                if t == team:
                    for a in c['audiences']:
                        per[a] += 1
                        shared[a] += len(c['audiences']) > 1
            for a in sorted(per):
                w.writerow([team.decode(), a.decode(), per[a], shared[a], per[a] - shared[a]])
        return out.getvalue().encode()


# ------------------------------------------------------------------------------ the dumps

def quoted(f: str, r: random.Random) -> str:
    if any(c in f for c in ',"\r\n') or r.random() < 0.1:
        return '"' + f.replace('"', '""') + '"'
    return f


def values_case(r: random.Random, rows: int, model: Model, as_of):
    """team, audience, email, unsubscribed, created_at: the values, in well-formed rows."""
    # Unicode's White_Space list again, by code point, so that a mistake in WHITE shows.
    spaces = [chr(c) for c in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                               0x2028, 0x2029, 0x202F, 0x205F, 0x3000)]
    locals_ = ['ann', 'José', 'zoë', 'Łukasz', 'ΟΔΥΣΣΕΥΣ', 'straße', 'STRASSE', 'İstanbul',
               'a.b+tag', 'ǅemal', 'ÆØÅ', 'ﬃ']
    domains = ['example.com', 'Example.COM', 'münchen.de', 'MÜNCHEN.DE', 'x.gr']
    broken = ['', ' ', 'noat', 'a@', '@b.com', 'a b@c.d', 'a\x01@c.d', 'a\x7f@c.d', 'a\u009fb@c.d', 'x@y@',
              '@', 'a@@b.c', 'q@w@e.r'] + [f'a{c}b@c.d' for c in spaces]
    created = ['2023-10-06T23:59:59.999999Z', '2023-10-07T00:30:00+01:00', '2023-10-06T20:00:00-05:00',
               '2023-10-06T23:47:56.678Z', '2023-10-06 23:47:56.678+00', '2015-03-16 14:40:47',
               '2026-01-01', '2023-10-07 00:00:00', '2023-10-06', 'bogus', '']
    cut = datetime.datetime.fromisoformat(as_of) + datetime.timedelta(days=1, microseconds=-1) if as_of else None
    # A quarter of the emails nearly all distinct; in a large dump, more than half, so that
    # the counting spills to disk under a small --memory-limit from about 400,000 rows.
    distinct = 0.3 if rows < 100_000 else 0.65
    # Now and then the rows are cut into two files, whose rows the run combines.
    starts = {0: 'contacts.csv'}
    if r.random() < 0.3 and rows > 1:   # (a second file needs a row of its own)
        starts[r.randrange(1, rows)] = 'contacts-2.csv'
    texts = {}
    for i in range(rows):
        if i in starts:
            name, text, line = starts[i], io.StringIO(), 2
            text.write('team_id,audience_id,email,unsubscribed,created_at,note\n')
            texts[name] = text
        x = r.random()
        if x < 0.04:
            email = r.choice(broken)
        elif x < 0.05:
            email = 'L' * r.choice([240, 241, 242, 243]) + '@example.com'   # 252 to 255 bytes
        elif x < 0.055:
            email = 'İ' * 120 + '@ex.com'     # 247 bytes as written, longer once lowercased
        elif x < distinct:
            email = f'u{r.randrange(rows * 2)}@{r.choice(domains)}'   # many distinct: the counter may spill
        else:
            email = r.choice(locals_) + '@' + r.choice(domains)
            if r.random() < 0.3:
                email = email.upper() if r.random() < 0.5 else email.lower()
            if r.random() < 0.2:
                email = ''.join(r.choice(spaces) for _ in range(r.randint(1, 2))) + email
            if r.random() < 0.2:
                email += ''.join(r.choice(spaces) for _ in range(r.randint(1, 2)))
        team = r.choice(['t1', 't2', 'T1', ' t1 ', '', 'équipe', '10', '9', 'a,b', 'q"t'])
        fields = [team, r.choice(['', '', 'a1', 'a2', 'A1', 'seg x', 'ség']), email,
                  r.choice(['true', 'false', 'false', '', 'T', 'f', '1', '0', 'YES', 'no', ' true ', 'maybe']),
                  r.choice(created), r.choice(['', 'x', 'has,comma', 'has "q"'])]
        encoded = [f.encode() for f in fields]
        if r.random() < 0.01:
            encoded[2] += b'\xff'
        if r.random() < 0.005:
            encoded[0] = b't\xfe'
        row = ','.join(quoted(f.decode('utf-8', 'surrogateescape'), r) for f in encoded)
        text.write(row + ('\r\n' if r.random() < 0.2 else '\n'))
        model.read += 1
        t, a, e, u, c = encoded[:5]
        if not valid_utf8(t):
            model.reject(line, 'invalid_utf8', None, name)
        else:
            model.rows[t] += 1
            when = instant(c) if cut else None
            flag = boolean(u)
            key, why = email_key(e)
            if cut and when is None:
                model.reject(line, 'invalid_value', t, name)
            elif cut and when > cut:
                model.filtered += 1
            elif flag is None:
                model.reject(line, 'invalid_value', t, name)
            elif not valid_utf8(a):
                model.reject(line, 'invalid_utf8', t, name)
            elif why:
                model.reject(line, why, t, name)
            else:
                model.count(t, key, flag, a)
        line += 1 + row.count('\n')
    files = {n: x.getvalue().encode('utf-8', 'surrogateescape') for n, x in texts.items()}
    args = []
    if r.random() < 0.3:
        # A limit for some teams, by their ids as written, quoted where CSV needs it: 0, or at one
        # of the team's two counts or one either side of it, where the usage and "over" turn.
        def limit(team):
            counts = [len(c['audiences']) for (t, _), c in model.contacts.items() if t == team]
            n = r.choice([sum(counts), len(counts)])
            return r.choice([0, max(n - 1, 0), n, n, n + 1])
        model.quotas = {t.encode(): (r.choice(['trial', 'pro']), limit(t.encode()))
                        for t in ['t1', 'T1', ' t1 ', '', 'a,b', 'q"t', 'équipe'] if r.random() < 0.6}
        files['quotas.csv'] = ('team_id,plan,contact_limit\n' + ''.join(
            f'{quoted(t.decode(), r)},{p},{n}\n' for t, (p, n) in model.quotas.items())).encode()
        args += ['--quotas', 'quotas.csv']
    if r.random() < 0.3:
        limits = sorted(r.sample([1, 2, 5, 10, 15, 25, 50], r.randint(1, 4)))
        model.tiers = [(f'tier{k}', n, r.choice([0, 99, 1999, 4950, 12000]) + 100 * k) for k, n in enumerate(limits)]
        files['tiers.csv'] = ('tier,contact_limit,monthly_price\n' + ''.join(
            f'{name},{n},{cents // 100}.{cents % 100:02d}\n' for name, n, cents in model.tiers)).encode()
        args += ['--tiers', 'tiers.csv']
    return files, args


def rows_case(r: random.Random, rows: int, model: Model):
    """The CSV's structure: quoting, line breaks, field counts, malformed rows."""
    parts = ['\ufeff'] if r.random() < 0.3 else []
    parts.append('team_id,audience_id,email,unsubscribed,note' + ('\r\n' if r.random() < 0.3 else '\n'))
    for _ in range(rows):
        fields = [r.choice(['t1', 't2', 'T1', '', ' t1 ']), r.choice(['', 'a1', 'a2', 'A1']),
                  r.choice(['a@x.io', 'A@X.IO', ' b@x.io', 'c@y.io', 'José@x.io', 'bad', 'F@z.io']),
                  r.choice(['true', 'false', '', 'x']),
                  r.choice(['', 'n', 'multi\nline', 'multi\r\nline', 'has,comma', 'q"uote'])]
        fields = [quoted(f, r) for f in fields]
        x = r.random()
        if x < 0.04:
            fields.append('extra')
        elif x < 0.08:
            fields = fields[:r.randint(1, 4)]
        elif x < 0.10:
            fields[r.randint(0, 4)] = '"ab"c'          # text after a closing quote
        elif x < 0.12:
            fields[r.randint(0, 4)] = 'ab"c'           # a quote inside an unquoted field
        elif x < 0.13:
            fields[r.randint(0, 4)] = '"open'          # a quote that closes somewhere later
        elif x < 0.14:
            fields[r.randint(1, 4)] = 'cr\rinside'
        x = r.random()
        if x < 0.03:
            parts.append('\n')
        elif x < 0.04:
            parts.append(' \n')
        elif x < 0.05:
            parts.append('\r\n')
        parts.append(','.join(fields) + ('\r\n' if r.random() < 0.2 else '\n'))
    if r.random() < 0.3:
        parts.append('t1,a1,"unterminated@x.io,false,\n')
    if r.random() < 0.3:
        parts[-1] = parts[-1].rstrip('\r\n')
    data = ''.join(parts).encode()
    rows_ = records(data)
    header = next(rows_)[1]
    for line, fields, bad, raw in rows_:
        model.read += 1
        if fields is None or bad:
            team = first_field_of_raw(raw)
        elif len(fields) != len(header):
            team = fields[0] if len(fields) > 1 else None
        else:
            team = fields[0]
            model.rows[team] += 1
            flag = boolean(fields[3])
            key, why = email_key(fields[2])
            if flag is None:
                model.reject(line, 'invalid_value', team)
            elif why:
                model.reject(line, why, team)
            else:
                model.count(team, key, flag, fields[1])
            continue
        if team is not None:
            model.rows[team] += 1
        model.reject(line, 'malformed_row', team)
    return {'contacts.csv': data}, []


def join_case(r: random.Random, rows: int, model: Model):
    """Contacts with ids, memberships joined to them (each contact id on one row); now and then
    under `--as-of`, which filters a later contact and its memberships."""
    teams = ['t1', 't2', 'T1', '']
    own_audience = r.random() < 0.5
    named_team = r.random() < 0.5
    as_of = r.random() < 0.4
    contacts = io.StringIO()
    contacts.write('contact_id,team_id,email,unsubscribed' + (',audience_id' if own_audience else '')
                   + (',created_at' if as_of else '') + '\n')
    by_id, filtered = {}, {}
    for i in range(rows):
        team = r.choice(teams)
        email = r.choice(['a@x.io', 'A@X.IO', ' b@x.io', 'c@y.io', 'José@x.io', 'josé@X.io', 'bad', 'f@z.io'])
        flag = r.choice(['true', 'false', 'false', ''])
        audience = r.choice(['', '', 'a1', 'a2'])
        created = r.choice(['2026-01-15', '2026-02-01 23:59:59', '2026-02-02', 'bogus']) if as_of else ''
        contacts.write(f'c{i},{team},{email},{flag}' + (f',{audience}' if own_audience else '')
                       + (f',{created}' if as_of else '') + '\n')
        model.read += 1
        t = team.encode()
        model.rows[t] += 1
        key, why = email_key(email.encode())
        if as_of and created == 'bogus':
            model.reject(i + 2, 'invalid_value', t)
        elif as_of and created == '2026-02-02':
            model.filtered += 1
            filtered[f'c{i}'] = t
        elif why:
            model.reject(i + 2, why, t)
        else:
            model.count(t, key, flag == 'true', audience.encode() if own_audience else b'')
            by_id[f'c{i}'] = (t, key)
    members = io.StringIO()
    members.write('contact_id,audience_id' + (',team_id' if named_team else '') + '\n')
    for i in range(rows * 2):
        k = r.randrange(rows + 2)      # the draw of r.choice over c0 … c{rows-1}, zz1, zz2
        cid = f'c{k}' if k < rows else f'zz{k - rows + 1}'
        audience = r.choice(['a1', 'a2', 'a3', 'A1'] + ([''] if r.random() < 0.05 else []))
        team = r.choice(teams)
        members.write(f'{cid},{audience}' + (f',{team}' if named_team else '') + '\n')
        model.read += 1
        if cid in filtered and not (named_team and team.encode() != filtered[cid]):
            model.filtered += 1
        elif cid not in by_id or (named_team and team.encode() != by_id[cid][0]):
            model.rejects.append(('memberships.csv', i + 2, 'unknown_contact'))
        elif not audience:
            model.rejects.append(('memberships.csv', i + 2, 'invalid_value'))
        else:
            model.contacts[by_id[cid]]['audiences'].add(audience.encode())
    return ({'contacts.csv': contacts.getvalue().encode(), 'memberships.csv': members.getvalue().encode()},
            ['--as-of', '2026-02-01'] if as_of else [])


def columns_case(r: random.Random, rows: int, model: Model):
    """Columns found by name: the accepted names in any case and order, blanks around them, a
    name for a meaning given twice or under two accepted names, extra columns, no team column
    (`--team`), the column options, a tab delimiter detected or given."""
    names = {'team': ['team_id', 'account_id', 'workspace_id'], 'email': ['email', 'email_address', 'Email Address'],
             'audience': ['audience_id', 'segment_id', 'list_id'], 'unsubscribed': ['unsubscribed']}
    args, overrides = [], {}
    if r.random() < 0.2:
        overrides['email'] = 'Mail Box'
        args += ['--email-column', 'mail box']
    if r.random() < 0.2:
        overrides['team'] = 'Org'
        args += ['--team-column', 'ORG']
    columns = []           # (header name, role or None)
    roles = ['email', 'audience', 'unsubscribed'] + (['team'] if r.random() < 0.8 else [])
    for role in roles:
        name = overrides.get(role) or r.choice(names[role])
        columns.append((name, role))
        if r.random() < 0.3:    # the same meaning again: under the same name, or under another accepted one
            columns.append((r.choice([name] + ([] if role in overrides else names[role])), role))
    columns += [(n, None) for n in r.sample(['first_name', 'created_at', 'note', 'id'], r.randint(0, 3))]
    r.shuffle(columns)
    def spelled(n):
        n = r.choice([n, n.upper(), n.lower(), n.title()])
        return r.choice(['', ' ']) + n + r.choice(['', ' '])
    header = [spelled(n) for n, _ in columns]
    # The column each meaning uses: the first accepted name the header holds, its leftmost column.
    used = {}
    for role in names:
        for name in ([overrides[role]] if role in overrides else names[role]):
            at = [i for i, h in enumerate(header) if h.strip().lower() == name.lower()]
            if at:
                used[role] = at[0]
                break
    tab = r.random() < 0.4
    delimiter = '\t' if tab else ','
    if r.random() < 0.3:
        args += ['--delimiter', 'tab' if tab else ',']
    team_name = None
    if 'team' not in used and r.random() < 0.5:
        team_name = r.choice(['acme', 'Default Team'])
        args += ['--team', team_name]
    def field(v):
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in delimiter + '"\r\n') else v
    text = io.StringIO()
    text.write(delimiter.join(field(h) for h in header) + '\n')
    for i in range(rows):
        values = {'team': r.choice(['t1', 't2', 'T1']), 'email': r.choice(['a@x.io', 'A@x.io', 'b@x.io', 'bad', ' c@y.io']),
                  'audience': r.choice(['', 'a1', 'a2']), 'unsubscribed': r.choice(['true', 'false', '', 'no', '?'])}
        row = [values[role] if role else r.choice(['x', 'y, z', '']) for _, role in columns]
        # Each column of a meaning gets its own value: only the one used may count.
        row = [v if columns[k][1] is None or used.get(columns[k][1]) == k else r.choice(['other@z.io', 'zz', 'true'])
               for k, v in enumerate(row)]
        text.write(delimiter.join(field(v) for v in row) + '\n')
        model.read += 1
        team = (row[used['team']] if 'team' in used else team_name or 'default').encode()
        model.rows[team] += 1
        flag = boolean(row[used['unsubscribed']].encode())
        key, why = email_key(row[used['email']].encode())
        if flag is None:
            model.reject(i + 2, 'invalid_value', team)
        elif why:
            model.reject(i + 2, why, team)
        else:
            model.count(team, key, flag, row[used['audience']].encode())
    return {'contacts.csv': text.getvalue().encode()}, args


# ------------------------------------------------------------------------------ the check

KINDS = ('values', 'rows', 'join', 'columns')   # a seed's kind of dump: KINDS[seed % 4]


def check(binary: str, seed: int, rows: int, work: str, memory_limit=None) -> list:
    r = random.Random(seed)
    kind = KINDS[seed % 4]
    as_of = '2023-10-06' if kind == 'values' and r.random() < 0.4 else None
    policy = 'all' if r.random() < 0.25 else 'any'
    model = Model(policy)
    files, extra = {'values': lambda: values_case(r, rows, model, as_of),
                    'rows': lambda: rows_case(r, rows, model),
                    'join': lambda: join_case(r, rows // 4, model),
                    'columns': lambda: columns_case(r, rows, model)}[kind]()
    # How the files reach the binary, which must not change a count: plain or gzip (members cut
    # anywhere, under the same name: the magic bytes decide), a file or standard input, and
    # the thread count. A generator of its own, so that the dumps are the same whichever it is.
    t = random.Random(seed * 1_000_003 + 1)
    how = t.choice(['file', 'gzip', 'stdin', 'stdin gzip'])
    threads = t.choice([1, 2, 3, 8])
    # A fifth of the runs under the smallest limit, where the join is done on disk, part by
    # part, from about 30,000 rows, and the counting spills to disk from about 400,000 (more
    # under `--as-of`, which filters many): `--rows 400000 --memory-limit 1MiB` for every run.
    drawn = t.choice(['1MiB'] + [None] * 4)
    memory = memory_limit or drawn
    folder = os.path.join(work, f'seed-{seed}')
    os.makedirs(folder, exist_ok=True)
    # Now and then a gzip dump cut short inside its last member: the run must fail (exit 1) with
    # one line naming the file and a byte offset, and write nothing.
    truncated = 'gzip' in how and t.random() < 0.1
    for name, data in files.items():
        if 'gzip' in how:
            cuts = sorted(t.randrange(len(data) + 1) for _ in range(t.randint(0, 3)))
            members = [gzip.compress(data[a:b], mtime=0) for a, b in zip([0] + cuts, cuts + [len(data)])]
            data = b''.join(members)
            if truncated and name == 'contacts.csv':
                data = data[:len(data) - t.randint(1, len(members[-1]) - 1)]
        with open(os.path.join(folder, name), 'wb') as f:
            f.write(data)
    stdin = 'stdin' in how
    # The path each file is given by: contacts.csv on standard input is `-`.
    given = {n: '-' if stdin and n == 'contacts.csv' else n for n in files}
    args = [binary, 'report', '--contacts', *[given[n] for n in files if n.startswith('contacts')], '--out', 'out', '--no-history',
            '--quiet', '--format', 'csv,json', '--unsubscribed-policy', policy, '--threads', str(threads)]
    if memory:
        args += ['--memory-limit', memory, '--temp-dir', folder]
    if 'memberships.csv' in files:
        args += ['--memberships', 'memberships.csv']
    if as_of:
        args += ['--as-of', as_of]
    args += extra
    # Now and then a limit on rejects just below or at their number: past it the run fails
    # (exit 1) and writes nothing; at it, the run is as without it. Not with a dump cut short,
    # which may pass the limit before it reaches the cut, and fail for that first.
    limit = None
    if t.random() < 0.2 and model.rejects and not truncated:
        limit = len(model.rejects) - t.choice([0, 1])
        args += ['--strict'] if limit == 0 else ['--max-rejects', str(limit)]
    with open(os.path.join(folder, 'contacts.csv'), 'rb') as contacts:
        done = subprocess.run(args, cwd=folder, capture_output=True, stdin=contacts if stdin else subprocess.DEVNULL)
    kind += (f', {how}, --threads {threads}' + ('' if limit is None else f', {limit} rejects allowed')
             + ('' if memory is None else f', --memory-limit {memory}'))
    if truncated:
        kind += ', cut short'
        message = done.stderr.decode(errors='replace')
        if (done.returncode != 1 or os.path.exists(os.path.join(folder, 'out')) or message.count('\n') != 1
                or not message.startswith(f'headcount: {given["contacts.csv"]}: byte ')):
            return [f'seed {seed} ({kind}): exit {done.returncode}, {message!r} (want 1, one line naming the '
                    f'file and a byte offset, and no report folder)']
        shutil.rmtree(folder)
        return []
    if limit is not None and limit < len(model.rejects):
        if done.returncode != 1 or os.path.exists(os.path.join(folder, 'out')):
            return [f'seed {seed} ({kind}): {len(model.rejects)} rejects: exit {done.returncode} '
                    f'(want 1, and no report folder)']
        shutil.rmtree(folder)
        return []
    if done.returncode != 0:
        return [f'seed {seed} ({kind}): exit {done.returncode}: {done.stderr.decode(errors="replace").strip()}']
    out = os.path.join(folder, 'out')
    problems = []

    def same(name, want, got):
        if want != got:
            w, g = want.decode(errors='replace').splitlines(), got.decode(errors='replace').splitlines()
            first = next((i for i in range(max(len(w), len(g))) if i >= len(w) or i >= len(g) or w[i] != g[i]), 0)
            problems.append(f'seed {seed} ({kind}): {name} line {first + 1}: model '
                            f'{w[first] if first < len(w) else "(none)"!r}, headcount '
                            f'{g[first] if first < len(g) else "(none)"!r}')

    read = lambda name: open(os.path.join(out, name), 'rb').read() if os.path.exists(os.path.join(out, name)) else b''
    same('teams.csv', model.teams_csv(), read('teams.csv'))
    if not kind.startswith('rows'):
        same('audiences.csv', model.audiences_csv(), read('audiences.csv'))
    rejects = list(csv.reader(io.StringIO(read('rejects.csv').decode('utf-8', 'replace'), newline='')))[1:]
    got = ''.join(f'{x[0]},{x[1]},{x[2]}\n' for x in rejects)
    # The contacts files in the byte order of their paths as given, then the memberships; each
    # file's rows in line order.
    order = lambda x: (given[x[0]].startswith('memberships'), given[x[0]].encode(), x[1])
    want = ''.join(f'{given[f]},{line},{why}\n' for f, line, why in sorted(model.rejects, key=order))
    same('rejects.csv (file, line, reason)', want.encode(), got.encode())
    summary = json.loads(read('summary.json'))
    want = model.totals()
    for name in ('totals', 'audiences_per_email'):
        if summary.get(name) != want[name]:
            problems.append(f'seed {seed} ({kind}): summary.json {name}: model {want[name]}, headcount {summary.get(name)}')
    if not problems:
        shutil.rmtree(folder)
    return problems


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--binary', default=os.path.join(here, '..', '.build', 'release', 'headcount'))
    p.add_argument('--seeds', type=int, default=60)
    p.add_argument('--first', type=int, default=1)
    p.add_argument('--rows', type=int, default=400)
    p.add_argument('--keep', help='folder for the dumps (default: a temporary one, removed)')
    p.add_argument('--memory-limit', help="every run's --memory-limit (default: 1MiB for a fifth of them)")
    p.add_argument('--kind', choices=KINDS, help='only seeds of this kind of dump (--seeds of them)')
    a = p.parse_args()
    if a.seeds < 1 or a.rows < 1:
        p.error('--seeds and --rows: at least 1')
    work = a.keep or tempfile.mkdtemp(prefix='headcount-spec-model-')
    seeds = [s for s in range(a.first, a.first + 4 * a.seeds) if a.kind in (None, KINDS[s % 4])][:a.seeds]
    for seed in seeds:
        problems = check(os.path.abspath(a.binary), seed, a.rows, work, a.memory_limit)
        if problems:
            print('\n'.join(problems))
            print(f'the dumps and reports are kept in {os.path.join(work, f"seed-{seed}")}')
            return 1
    if not a.keep:
        shutil.rmtree(work)
    print(f'{a.seeds}{" " + a.kind if a.kind else ""} seeds ({seeds[0]}-{seeds[-1]}): every report equals the model')
    return 0


if __name__ == '__main__':
    sys.exit(main())
