"""A software WebAuthn authenticator for tests: makes "none"-attestation registrations and signed
assertions the way a browser plus a security key would, so the server's checks run on real cryptography."""
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

FLAG_UP, FLAG_UV, FLAG_AT = 0x01, 0x04, 0x40


class SoftKey:
    """One credential on a P-256 key, with a signature counter."""

    def __init__(self, rp_id="localhost", origin="http://localhost"):
        self.rp_id = rp_id
        self.origin = origin
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0
        self.user_handle = None  # set by register(): a discoverable credential keeps it and sends it back

    @property
    def id(self):
        return bytes_to_base64url(self.credential_id)

    def cose_public_key(self):
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def client_data(self, kind, challenge, origin=None):
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()

    def auth_data(self, flags, attested=b"", rp_id=None):
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.counter) + attested

    def register(self, options, origin=None, rp_id=None):
        """The JSON a browser posts after navigator.credentials.create(options["publicKey"])."""
        challenge = options["publicKey"]["challenge"]
        self.user_handle = options["publicKey"]["user"]["id"]
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_public_key()
        auth_data = self.auth_data(FLAG_UP | FLAG_UV | FLAG_AT, attested, rp_id)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(self.client_data("webauthn.create", challenge, origin)),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["usb"],
            },
            "clientExtensionResults": {},
        }

    def sign(self, options, origin=None, rp_id=None, challenge=None, bump=True, verified=True, user_handle=None):
        """The JSON a browser posts after navigator.credentials.get(options["publicKey"]); with `user_handle`
        (the one kept at registration, or another) as a discoverable credential answers."""
        if bump:
            self.counter += 1
        challenge = challenge or options["publicKey"]["challenge"]
        auth_data = self.auth_data(FLAG_UP | (FLAG_UV if verified else 0), rp_id=rp_id)
        client_data = self.client_data("webauthn.get", challenge, origin)
        signature = self.private_key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                **({"userHandle": user_handle} if user_handle else {}),
            },
            "clientExtensionResults": {},
        }


def challenge_of(options):
    return base64url_to_bytes(options["publicKey"]["challenge"])
