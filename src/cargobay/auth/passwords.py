"""Password hashing, for web sign-in and POST /users alike: Argon2id (argon2-cffi RFC 9106
defaults).

Hashes made by the management API's older scrypt helper (``scrypt$N$r$p$salt$key``) still
verify; a successful sign-in re-hashes them with Argon2id. Hashing costs ~0.1-0.2 s of CPU
by design, so callers run these functions in a worker thread, never on the event loop.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a wrong username costs as much
    time as a wrong password and response times do not reveal which usernames exist.
    Made on first use: hashing costs ~0.2 s, which every process would pay at import."""
    return _HASHER.hash("cargobay-no-such-user")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``. A missing hash (a user who never set a
    password) never matches, but costs the same time."""
    if not stored:
        _verify_argon2(_dummy_hash(), password)
        return False
    if stored.startswith("scrypt$"):
        return _verify_scrypt(stored, password)
    return _verify_argon2(stored, password)


def needs_rehash(stored: str) -> bool:
    """Whether a hash that just verified should be replaced by a fresh Argon2id hash."""
    if not stored.startswith("$argon2"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _verify_argon2(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_scrypt(stored: str, password: str) -> bool:
    try:
        _, n, r, p, salt, key = stored.split("$")
        derived = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(key) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(derived.hex(), key)
