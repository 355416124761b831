"""Certificate verification failures in an operator's words, for the HTTP and TLS probes.

Its own module so the HTTP probe can word a failed handshake without importing the TLS probe
and, with it, `cryptography` (about 40 ms of every cold check).
"""

from __future__ import annotations

# OpenSSL's wording, as ssl.SSLCertVerificationError.verify_message gives it, in operator terms.
_VERIFY_WORDS = (
    ("certificate has expired", "the certificate has expired"),
    ("certificate is not yet valid", "the certificate is not valid yet"),
    ("self-signed certificate in certificate chain",
     "the certificate chain ends in a self-signed certificate that is not trusted"),
    ("self-signed certificate", "the certificate is self-signed and not trusted"),
    ("self signed certificate", "the certificate is self-signed and not trusted"),
    ("unable to get local issuer certificate",
     "the certificate is signed by an authority that is not trusted"),
)


def describe_verify_error(message: str) -> str:
    """One line for a failed certificate verification.

    >>> describe_verify_error("Hostname mismatch, certificate is not valid for 'a.test'.")
    "the certificate is not valid for host 'a.test'"
    >>> describe_verify_error("self-signed certificate")
    'the certificate is self-signed and not trusted'
    """
    text = message.strip().rstrip(".")
    for needle, words in _VERIFY_WORDS:
        if needle in text:
            return words
    if "mismatch, certificate is not valid for" in text:
        return "the certificate is not valid for host " + text.rsplit(" for ", 1)[1]
    return f"certificate verification failed: {text}"
