"""The two robots' wire formats, the address check that keeps a webhook from reaching inside the network, and
one HTTP POST with a short timeout.

企业微信群机器人: ``POST {"msgtype": "markdown", "markdown": {"content": …}}`` to
``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``. 钉钉自定义机器人: ``{"msgtype": "markdown",
"markdown": {"title": …, "text": …}}`` to ``https://oapi.dingtalk.com/robot/send?access_token=…``; with 加签 the
address also carries ``timestamp`` (milliseconds) and ``sign`` = URL-encoded base64(HMAC-SHA256(key=secret,
msg="{timestamp}\\n{secret}")). Both answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``, and HTTP 200 with
another errcode when they refuse (bad key, bad signature, too many messages): that is a failure too.

A webhook must be https on the robot's own host (port 443, no user name), so an address typed into the
admin can never make the server call an internal one; ``PUSH_EXTRA_HOSTS`` adds hosts (a private 企业微信
deployment) and ``PUSH_ALLOW_LOOPBACK`` lets tests use http://127.0.0.1. Redirects are not followed (a
redirect to anywhere else would undo the check) and proxies from the environment are ignored unless
``PUSH_PROXY`` names one.
"""

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

OFFICIAL_HOSTS = {"wecom": "qyapi.weixin.qq.com", "dingtalk": "oapi.dingtalk.com"}
EXAMPLES = {
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=…",
}
LOOPBACK = "127.0.0.1"
# 企业微信 takes at most 4096 bytes of markdown content; 钉钉 about 20,000.
MAX_BYTES = {"wecom": 4096, "dingtalk": 18000}
ANSWER_CHARS = 1000


def check_webhook(kind: str, url: str) -> None:
    """Raise a ``ValidationError`` (Chinese) unless ``url`` is a webhook address this ``kind`` may call."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValidationError({"webhook_url": "Webhook 地址格式不正确"}) from exc
    host = (parts.hostname or "").lower()
    example = EXAMPLES.get(kind, "")
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValidationError({"webhook_url": "Webhook 地址不能含用户名或密码"})
    if host == LOOPBACK and getattr(settings, "PUSH_ALLOW_LOOPBACK", False):
        if parts.scheme not in ("http", "https"):
            raise ValidationError({"webhook_url": "Webhook 地址须以 http:// 或 https:// 开头"})
        return
    allowed = {OFFICIAL_HOSTS.get(kind, ""), *(h.lower() for h in getattr(settings, "PUSH_EXTRA_HOSTS", ()))}
    if parts.scheme != "https":
        raise ValidationError({"webhook_url": f"Webhook 地址须以 https:// 开头，如 {example}"})
    if host not in allowed or port not in (None, 443):
        raise ValidationError(
            {"webhook_url": f"不是{_kind_label(kind)}的地址：应为 {example}（为安全起见，不能推送到其他服务器）"}
        )


def _kind_label(kind: str) -> str:
    return {"wecom": "企业微信群机器人", "dingtalk": "钉钉自定义机器人"}.get(kind, "机器人")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """钉钉加签: base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")), before URL encoding."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def address(kind: str, url: str, secret: str = "", now_ms: int | None = None) -> str:
    """The address to POST to: the webhook, plus ``timestamp`` and ``sign`` for a 钉钉 robot with 加签."""
    url = url.strip()
    if kind != "dingtalk" or not secret:
        return url
    timestamp = now_ms if now_ms is not None else int(time.time() * 1000)
    query = urllib.parse.urlencode({"timestamp": timestamp, "sign": dingtalk_sign(secret, timestamp)})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def payload(kind: str, title: str, text: str) -> dict:
    """The JSON body of a markdown message, cut to what the robot accepts."""
    text = _cut(text, MAX_BYTES.get(kind, 4096))
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    return {"msgtype": "markdown", "markdown": {"content": text}}


def _cut(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    tail = "\n\n……（内容过长，已截断）"
    return data[: limit - len(tail.encode())].decode(errors="ignore") + tail


@dataclass
class Answer:
    """What one POST got back."""

    ok: bool
    status_code: int | None = None
    errcode: int | None = None
    errmsg: str = ""
    answer: str = ""
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is answered as it is: an error


def _opener():
    proxy = getattr(settings, "PUSH_PROXY", "")
    proxies = {"http": proxy, "https": proxy} if proxy else {}
    return urllib.request.build_opener(urllib.request.ProxyHandler(proxies), _NoRedirect)


def post(url: str, body: dict) -> Answer:
    """POST ``body`` as JSON; success is HTTP 200 with errcode 0. Never raises for network trouble."""
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    timeout = getattr(settings, "PUSH_TIMEOUT_SECONDS", 5)
    try:
        with _opener().open(request, timeout=timeout) as response:
            status, raw = response.status, response.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read(64 * 1024) if exc.fp else b""
    except urllib.error.URLError as exc:
        return Answer(ok=False, error=f"连接失败：{exc.reason}"[:300])
    except TimeoutError:
        return Answer(ok=False, error=f"{timeout} 秒内没有应答"[:300])
    except OSError as exc:
        return Answer(ok=False, error=f"连接失败：{exc}"[:300])
    text = raw.decode("utf-8", errors="replace")
    errcode, errmsg = None, ""
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            errcode = parsed.get("errcode") if isinstance(parsed.get("errcode"), int) else None
            errmsg = str(parsed.get("errmsg", ""))[:200]
    except ValueError:
        pass
    ok = status == 200 and errcode == 0
    if ok:
        error = ""
    elif status != 200:
        error = f"HTTP {status}"
    elif errcode is None:
        error = "应答不是机器人的 JSON（没有 errcode）"
    else:
        error = f"机器人拒收：errcode {errcode}"
    return Answer(
        ok=ok, status_code=status, errcode=errcode, errmsg=errmsg, answer=text[:ANSWER_CHARS], error=error[:300]
    )
