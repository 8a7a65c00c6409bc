"""QR codes for authenticator setup, drawn as inline SVG (no image request leaves the
page): a workspace user's 2FA page and the vendor console's enrolment both draw them."""

import base64


def svg(data: str) -> str:
    # Imported here: only the 2FA setup pages draw one, and qrcode with its image
    # modules is about 1 MB in every web process that never does.
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    text = image.to_string(encoding="unicode")
    # Drop the XML declaration: the SVG is embedded in HTML.
    return text[text.index("<svg") :]


def base32_secret(device) -> str:
    """The key as authenticator apps expect it when typed in, in groups of four."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))
