#!/usr/bin/env python3
"""Writes the end-to-end fixtures next to this script. Run again after editing;
the files are committed so that tests need nothing but the built binary.
gzip members are written with mtime 0 so that the bytes are reproducible."""
import gzip
import io
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def write(name, data: bytes):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


# A legacy dump: one row per (audience, contact record).
LEGACY = (
    "team_id,audience_id,contact_id,email,first_name,unsubscribed,created_at\n"
    "t1,a1,1,alice@example.com,Alice,false,2023-10-06T23:47:56.678Z\n"
    "t1,a2,2,Alice@Example.com ,Alice,true,2023-10-06 23:47:56.678+00\n"
    "t1,a1,3,bob@example.com,Bob,,2015-03-16 14:40:47\n"
    "t1,a1,4,BOB@example.com,Bob,f,2026-01-01\n"
    "t1,a3,5,carol@example.com,\"Carol, Jr.\",no,2020-01-01\n"
    "t2,b1,6,alice@example.com,Alice,0,2020-01-01\n"
    "t2,b1,7,dave+news@example.com,Dave,1,2020-01-01\n"
    "t2,b2,8,dave+news@example.com,Dave,yes,2020-01-01\n"
    "t2,b2,9,not-an-email,X,false,2020-01-01\n"
    "t3,c1,10,\t Erin@Example.org\u00a0,Erin,false,2020-01-01\n"
    "t3,,11,frank@example.org,Frank,false,2020-01-01\n"
).encode()
write("legacy.csv.gz", gz(LEGACY))
half = LEGACY.index(b"t1,a1,4")
write("legacy-multimember.csv.gz", gz(LEGACY[:half]) + gz(LEGACY[half:]))
write("legacy-plain-named.csv.gz", LEGACY)            # plain text despite the name
full = gz(LEGACY)
write("truncated.csv.gz", full[: len(full) - 12])
bad_crc = bytearray(full)
bad_crc[-8] ^= 0xFF                                   # CRC-32 in the trailer
write("bad-crc.csv.gz", bytes(bad_crc))
bad_data = bytearray(full)
bad_data[30] ^= 0x55                                  # inside the deflate data
write("bad-data.csv.gz", bytes(bad_data))
write("trailing-garbage.csv.gz", full + b"this is not gzip")
write("empty.csv.gz", b"")
write("header-only.csv.gz", gz(b"team_id,audience_id,email\n"))

# RFC 4180 corners: BOM, CRLF, quotes, doubled quotes, a newline inside quotes.
QUOTING = (
    "\ufeffteam_id,audience_id,email,note\r\n"
    "t1,a1,\"alice@example.com\",\"plain\"\r\n"
    "t1,a2,\" ALICE@example.com \",\"multi\r\nline\"\r\n"
    "t1,a1,bob@example.com,\"say \"\"hi\"\"\"\r\n"
    "t1,a3,\"carol@example.com\",\"comma, inside\"\r\n"
    "t1,a3,\"broken@example.com,unterminated\r\n"
    "t1,a1,dave@example.com,\"after\"x\r\n"
    "t1,a1,erin@example.com,ok\r\n"
).encode()
write("quoting.csv.gz", gz(QUOTING))

# Aliases in an odd order, with extra columns and odd case.
ALIASES = (
    "Extra,Email Address,SEGMENT_ID,Workspace_Id,Unsubscribed\n"
    "x,alice@example.com,s1,w1,TRUE\n"
    "x,alice@example.com,s2,w1,FALSE\n"
    "x,bob@example.com,s1,w2,t\n"
).encode()
write("aliases.csv.gz", gz(ALIASES))

# Invalid addresses and bytes; Unicode case.
INVALID = (
    b"team_id,audience_id,email\n"
    b"t1,a1,\n"
    b"t1,a1,   \n"
    b"t1,a1,no-at-sign\n"
    b"t1,a1,@example.com\n"
    b"t1,a1,alice@\n"
    b"t1,a1,ali ce@example.com\n"
    b"t1,a1,ali\x01ce@example.com\n"
    b"t1,a1," + b"x" * 250 + b"@example.com\n"
    b"t1,a1,bad\xff\xfe@example.com\n"
    + "t1,a1,JOS\u00c9@Example.com\n".encode()
    + "t1,a2,jos\u00e9@example.com\n".encode()
    + "t1,a2,\u0141UKASZ@example.com\n".encode()
    + "t1,a2,\u0142ukasz@example.com\n".encode()
    + b"t1,a1,a@b@example.com\n"
    b"t1,a1,too,many,fields\n"
)
write("invalid.csv.gz", gz(INVALID))

# The global layout: contacts + memberships joined on contact_id.
CONTACTS = (
    "team_id,contact_id,email,unsubscribed\n"
    "t1,c1,alice@example.com,true\n"
    "t1,c2,ALICE@example.com,false\n"
    "t1,c3,bob@example.com,false\n"
    "t1,c4,carol@example.com,false\n"
    "t2,c5,alice@example.com,false\n"
    "t2,c6,bad-address,false\n"
).encode()
MEMBERSHIPS = (
    "contact_id,audience_id\n"
    "c1,a1\n"
    "c2,a2\n"
    "c3,a1\n"
    "c5,b1\n"
    "c5,b1\n"
    "c99,a1\n"
    "c6,b1\n"
    "c3,\n"
).encode()
write("global-contacts.csv.gz", gz(CONTACTS))
write("global-memberships.csv.gz", gz(MEMBERSHIPS))

# Tab-separated, no team column.
write("tabs.tsv", b"email\tlist_id\nalice@example.com\tl1\nALICE@example.com\tl2\nbob@example.com\tl1\n")

# Hostile ids: commas, quotes, markup in team and audience ids.
HOSTILE = (
    "team_id,audience_id,email\n"
    "\"team, \"\"one\"\"\",\"<script>alert(1)</script>\",alice@example.com\n"
    "\"team, \"\"one\"\"\",\"\"\"><img src=x onerror=alert(1)>\",bob@example.com\n"
    "plain,a,carol@example.com\n"
).encode()
write("hostile.csv.gz", gz(HOSTILE))

# Two halves of one dump, for file-order determinism.
lines = LEGACY.decode().splitlines(keepends=True)
header = lines[0]
write("part-a.csv", (header + "".join(lines[1:6])).encode())
write("part-b.csv.gz", gz((header + "".join(lines[6:])).encode()))
