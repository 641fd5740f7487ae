"""The http/https download handler that records each exchange as it crossed the connection.

Scrapy's HTTP/1.1 handler (Twisted's client underneath) hands on a response rebuilt from what
it parsed: header names re-cased, connection headers (Transfer-Encoding, Connection) gone, the
body de-chunked. `WireDownloadHandler` is that handler with its connections' protocol
recording, per exchange, the request bytes written to the transport (request line, headers and
any body, exactly) and the response bytes received (status line and header lines with their
case, order and folding, then the body before transfer decoding: chunk framing kept). Inside
TLS it records what the HTTP protocol sees, not TLS records; a CONNECT tunnel's own exchange
with the proxy is not part of any. Each response carries its `RecordedExchange`
(`recorded_exchange(response)`), which WireMiddleware turns into the capture that is archived.

A body past the size limit (DOWNLOAD_MAXSIZE, or meta `download_maxsize`) is kept up to the
limit instead of dropped: the exchange ends there and the download fails with `BodyTruncated`,
carrying the response, so its first bytes are archived with `WARC-Truncated: length`. A
connection lost before the body's end (data loss) is the same, with `BodyLost` and
`WARC-Truncated: disconnect`, unless DOWNLOAD_FAIL_ON_DATALOSS is off: then, as in Scrapy, the
partial response is handed on (flag "dataloss"), its capture still marked truncated.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from scrapy import signals
from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _ResponseReader,
    _ResultT,
    _ScrapyAgent,
)
from scrapy.exceptions import DownloadCancelledError, DownloadFailedError, ResponseDataLossError
from scrapy.http import Response
from scrapy.utils._download_handlers import check_stop_download, get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web._newclient import Request as TxRequest
from twisted.web.client import ResponseFailed
from twisted.web.iweb import UNKNOWN_LENGTH, IResponse

from scraper.record import MAX_HEADER_BYTES, MAX_HEADER_FIELDS

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from twisted.internet.interfaces import IAddress
    from twisted.web._newclient import HTTP11ClientProtocol

__all__ = ["BodyLost", "BodyTruncated", "HeadRefused", "RecordedExchange", "WireDownloadHandler", "recorded_exchange"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordedExchange:
    """One HTTP exchange as it crossed the connection (inside TLS, for https)."""

    request_head: bytes  # request line and header lines as written, with the blank line ending them
    request_body: bytes  # as written (chunk framing included, if it was sent chunked)
    response_head: bytes  # status line and header lines as received, with the blank line ending them
    body: bytes  # as received: before transfer decoding (chunk framing kept) and decompression
    truncated: str | None = None  # WARC-Truncated: "length", "disconnect" or "unspecified"; None: whole


class BodyTruncated(DownloadCancelledError):
    """The body passed the download size limit: the exchange ended there; `response` holds what came."""

    def __init__(self, message: str, response: Response) -> None:
        super().__init__(message)
        self.response = response


class HeadRefused(Exception):
    """The response head passed a limit (ARCHIVE_MAX_HEADER_FIELDS, ARCHIVE_MAX_HEADER_BYTES): nothing is archived.

    Not a download error Scrapy retries: the same server would send the same head again.
    """


class BodyLost(ResponseDataLossError):
    """The connection was lost before the body's end; `response` holds what came."""

    def __init__(self, message: str, response: Response) -> None:
        super().__init__(message)
        self.response = response


# Responses this handler made, with their exchange: Scrapy's Response has slots, so no attribute.
_RECORDED: weakref.WeakKeyDictionary[Response, RecordedExchange] = weakref.WeakKeyDictionary()
# Twisted's responses (IResponse providers), with the recorder of the exchange that brought each.
_RECORDERS: weakref.WeakKeyDictionary[Any, _Recorder] = weakref.WeakKeyDictionary()


def recorded_exchange(response: Response) -> RecordedExchange | None:
    """Return the exchange that brought `response` as it crossed the connection, if this handler fetched it."""
    return _RECORDED.get(response)


_STATUS_1XX = re.compile(rb"\S+ 1\d\d(?:\s|$)")


def _head_bounds(data: bytes | bytearray) -> tuple[int, int] | None:
    """Return (start, end) of the final response head in `data`, past any 1xx interim ones; None if incomplete.

    A head is a status line and header lines, each ended by LF (CR LF, or a bare LF as Twisted
    accepts), up to the first empty line; `end` is just past that empty line.
    """
    start = 0
    while True:
        end = _head_end(data, start)
        if end is None:
            return None
        if not _STATUS_1XX.match(data, start):
            return start, end
        start = end


def _head_end(data: bytes | bytearray, start: int) -> int | None:
    line_start = data.find(b"\n", start) + 1  # past the status line
    while line_start:
        line_end = data.find(b"\n", line_start)
        if line_end < 0:
            return None
        if data[line_start:line_end] in (b"", b"\r"):
            return line_end + 1
        line_start = line_end + 1
    return None


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """The largest response head taken: header fields, and bytes from the status line to the blank line."""

    max_fields: int = MAX_HEADER_FIELDS
    max_bytes: int = MAX_HEADER_BYTES


class _Recorder:
    """The bytes of one exchange on a connection, gathered while it lasts."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.received = bytearray()
        self.end: int | None = None  # where the response ended in `received` (bytes after it are not its)
        self.bounds: tuple[int, int] | None = None  # the final response head's
        self.limit = 0  # the body's size limit in bytes, as transferred; 0: none
        self.truncated: str | None = None
        self.on_over_limit: Callable[[], None] | None = None
        self.fail_on_dataloss = True
        self.receiving = False  # inside the protocol's dataReceived: `received` may run ahead of the parser
        self.head_limits = HeadLimits()
        self._head_lines = 0  # lines received while no complete response head has (1xx heads included)

    def take(self, data: bytes) -> None:
        if self.end is None and self.truncated is None:
            self.received += data

    def head_refusal(self, data: bytes) -> str | None:
        """Say why the response head is refused, once `data` (just taken) brings it past a limit."""
        if self.bounds is not None or self.end is not None:
            return None
        self._head_lines += data.count(b"\n")
        limits = self.head_limits
        if len(self.received) <= limits.max_bytes and self._head_lines <= limits.max_fields + 1:
            return None  # within bounds, complete or not (a status line and up to max_fields fields)
        self.bounds = _head_bounds(self.received)
        if self.bounds is not None:  # the head ended within this read: measure it, not what followed
            start, end = self.bounds
            fields = self.received.count(b"\n", start, end) - 2  # less the status line and the blank line
            if end - start <= limits.max_bytes and fields <= limits.max_fields:
                return None
            self.bounds = None
        if self._head_lines > limits.max_fields + 1:
            return f"its response head has more than {limits.max_fields} header fields (ARCHIVE_MAX_HEADER_FIELDS)"
        return f"its response head is larger than {limits.max_bytes} bytes (ARCHIVE_MAX_HEADER_BYTES)"

    def finish(self, rest: bytes) -> None:
        """The parser found the response's end; `rest` followed it in the last bytes received."""
        if self.end is None:
            self.end = len(self.received) - len(rest)

    def body_length(self) -> int:
        if self.bounds is None:
            self.bounds = _head_bounds(self.received)
        if self.bounds is None:
            return 0
        return (len(self.received) if self.end is None else self.end) - self.bounds[1]

    def check_limit(self) -> None:
        """Cut the exchange off (`on_over_limit`) once its body, as transferred, is past the limit.

        Mid-way through a read the parser may not have reached the end of what came (bytes past the
        response's end are not its body), so until the response has ended it is counted after reads.
        """
        if self.on_over_limit is None or self.truncated is not None or not self.limit:
            return
        if self.receiving and self.end is None:
            return
        if self.body_length() > self.limit:
            self.truncated = "length"
            self.on_over_limit()

    def recorded(self) -> RecordedExchange | None:
        """Return the exchange as recorded (None if no complete response head arrived)."""
        self.body_length()
        if self.bounds is None:
            return None
        start, head_end = self.bounds
        end = len(self.received) if self.end is None else self.end
        body = bytes(self.received[head_end:end])
        if self.truncated == "length":
            body = body[: self.limit]
        split = self.sent.find(b"\r\n\r\n") + 4  # Twisted writes the head with CR LF, then any body
        return RecordedExchange(
            request_head=bytes(self.sent[:split]) if split >= 4 else bytes(self.sent),
            request_body=bytes(self.sent[split:]) if split >= 4 else b"",
            response_head=bytes(self.received[start:head_end]),
            body=body,
            truncated=self.truncated or (None if self.end is not None else "unspecified"),
        )


class _Tee:
    """A transport that keeps a copy of every byte written through it; the rest goes to the transport."""

    def __init__(self, transport: Any, copy: bytearray) -> None:
        self._transport = transport
        self._copy = copy

    def write(self, data: bytes) -> None:
        self._copy += data
        self._transport.write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        pieces = list(data)
        self._copy += b"".join(pieces)
        self._transport.writeSequence(pieces)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _RecordingRequest(TxRequest):
    """Twisted's request, written through a transport that keeps a copy of what it writes."""

    sent: bytearray

    @classmethod
    def of(cls, request: TxRequest, sent: bytearray) -> _RecordingRequest:
        recording = cls(request.method, request.uri, request.headers, request.bodyProducer, request.persistent)
        recording._parsedURI = request._parsedURI
        recording.sent = sent
        return recording

    def writeTo(self, transport: Any) -> Deferred[None]:
        written: Deferred[None] = super().writeTo(_Tee(transport, self.sent))  # type: ignore[no-untyped-call]
        return written


class _RecordingProtocol(_LenientHTTP11ClientProtocol):
    """Scrapy's HTTP/1.1 client protocol, recording each exchange on its connection (one at a time)."""

    _recorder: _Recorder | None = None
    head_limits = HeadLimits()

    def request(self, request: TxRequest) -> Deferred[IResponse]:
        if self.state != "QUIESCENT":  # refused below, as Twisted refuses it: no exchange to record
            return super().request(request)
        recorder = self._recorder = _Recorder()
        recorder.head_limits = self.head_limits
        answered = super().request(_RecordingRequest.of(request, recorder.sent))

        def remember(response: IResponse) -> IResponse:
            _RECORDERS[response] = recorder
            return response

        answered.addCallback(remember)
        return answered

    def dataReceived(self, data: bytes) -> None:
        recorder = self._recorder
        if recorder is None:
            super().dataReceived(data)  # type: ignore[no-untyped-call]
            return
        recorder.take(data)
        refusal = recorder.head_refusal(data)
        if refusal is not None:  # before the parser reads a byte of it: the connection goes, the request fails
            self._recorder = None
            self._giveUp(Failure(HeadRefused(f"refused: {refusal}")))  # type: ignore[no-untyped-call]
            return
        recorder.receiving = True
        try:
            super().dataReceived(data)  # type: ignore[no-untyped-call]
        finally:
            recorder.receiving = False
        recorder.check_limit()

    def _finishResponse(self, rest: bytes) -> None:
        recorder, self._recorder = self._recorder, None  # an idle pooled connection keeps no body
        if recorder is not None:
            recorder.finish(rest)
        super()._finishResponse(rest)


class _RecordingFactory(_LenientHTTP11ClientFactory):
    head_limits = HeadLimits()  # a handler's own subclass sets its crawler's

    def buildProtocol(self, addr: IAddress | None) -> HTTP11ClientProtocol:
        protocol = _RecordingProtocol(self._quiescentCallback)  # type: ignore[no-untyped-call]
        protocol.head_limits = self.head_limits
        return protocol


class _RecordingReader(_ResponseReader):
    """Scrapy's body reader, with the size limit counted on the body as transferred and kept up to.

    Scrapy's own limit (and its cancel) is off: the recorder cuts the exchange at the limit.
    """

    def __init__(self, *args: Any, recorder: _Recorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorder = recorder

    def cut(self) -> None:
        """End the exchange at the limit: hand on what came, and drop the connection (the rest is not wanted)."""
        if self._finished.called:
            return
        logger.warning(
            "Received more than the download max size (%d bytes) in %s: the first %d bytes are archived, truncated",
            self._recorder.limit,
            self._request,
            self._recorder.limit,
        )
        self._finish_response(flags=["truncated"])
        producer = getattr(self._txresponse._transport, "_producer", None)  # None once the response ended
        if producer is not None:
            producer.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._finished.called:
            return
        self._recorder.check_limit()  # the whole body may have come at once: past the limit all the same
        if self._finished.called:
            return
        if reason.check(ResponseFailed):  # type: ignore[no-untyped-call]  # Twisted's _DataLoss: the connection closed before the body's end
            self._recorder.truncated = "disconnect"
            self._finish_response(flags=["dataloss"])
            return
        super().connectionLost(reason)


class _RecordingAgent(_ScrapyAgent):
    """Scrapy's agent, reading bodies with `_RecordingReader` and handing on each response's exchange."""

    def _cb_bodyready(self, txresponse: Any, request: Request) -> _ResultT | Deferred[_ResultT]:
        recorder = _RECORDERS.get(txresponse)
        if recorder is None:  # not from a recording connection (cannot happen with this handler's pool)
            return super()._cb_bodyready(txresponse, request)
        headers = self._headers_from_twisted_response(txresponse)
        stop = check_stop_download(
            signals.headers_received, self._crawler, request, headers=headers, body_length=txresponse.length
        )
        if stop:
            txresponse._transport.stopProducing()
            txresponse._transport.loseConnection()
            return {"txresponse": txresponse, "stop_download": stop}
        if cast("int", txresponse.length) == 0:  # deliverBody hangs for responses without a body
            return {
                "txresponse": txresponse,
                "certificate": getattr(txresponse, "_scrapy_certificate", None),
                "ip_address": getattr(txresponse, "_scrapy_ip_address", None),
            }
        return self._read_body(txresponse, request, recorder)

    def _read_body(self, txresponse: Any, request: Request, recorder: _Recorder) -> Deferred[_ResultT]:
        warnsize = request.meta.get("download_warnsize", self._warnsize)
        expected = cast("int", txresponse.length) if txresponse.length != UNKNOWN_LENGTH else -1
        if warnsize and expected > warnsize:
            logger.warning(
                "Expected to receive %d bytes which is larger than download warn size (%d) in request %s.",
                expected,
                warnsize,
                request,
            )
        recorder.limit = request.meta.get("download_maxsize", self._maxsize) or 0
        recorder.fail_on_dataloss = request.meta.get("download_fail_on_dataloss", self._fail_on_dataloss)
        finished: Deferred[_ResultT] = Deferred(partial(self._cancel, txresponse=txresponse))
        reader = _RecordingReader(
            finished,
            txresponse,
            request,
            0,  # maxsize: counted by the recorder on the body as transferred, and kept up to
            warnsize,
            recorder.fail_on_dataloss,
            self._crawler,
            reached_warnsize=bool(warnsize and expected > warnsize),
            tls_verbose_logging=self._tls_verbose_logging,
            recorder=recorder,
        )
        recorder.on_over_limit = reader.cut
        txresponse.deliverBody(reader)
        self._txresponse = txresponse
        recorder.check_limit()  # what came with the head may be past the limit already
        return finished

    def _cb_bodydone(self, result: _ResultT, url: str) -> Response:
        response = super()._cb_bodydone(result, url)
        recorder = _RECORDERS.get(result["txresponse"])
        recorded = recorder.recorded() if recorder is not None else None
        if recorder is None or recorded is None:
            return response
        _RECORDED[response] = recorded
        if recorded.truncated == "length":
            raise BodyTruncated(
                f"truncated: its body passed the download size limit ({recorder.limit} bytes); "
                f"the first {recorder.limit} bytes are archived (WARC-Truncated: length)",
                response,
            )
        if recorded.truncated == "disconnect" and recorder.fail_on_dataloss:
            raise BodyLost(
                f"connection lost before the body's end; the {len(recorded.body)} bytes that came "
                "are archived (WARC-Truncated: disconnect)",
                response,
            )
        return response


def _refusal(exc: BaseException | None) -> HeadRefused | None:
    """Return the HeadRefused a failed exchange (Twisted's ResponseFailed, with its reasons) ended with, if any."""
    for reason in getattr(exc, "reasons", ()):
        if isinstance(reason.value, HeadRefused):
            return reason.value
    return None


class WireDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 download handler, recording each exchange's bytes (`recorded_exchange`)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        limits = HeadLimits(
            max_fields=crawler.settings.getint("ARCHIVE_MAX_HEADER_FIELDS", MAX_HEADER_FIELDS),
            max_bytes=crawler.settings.getint("ARCHIVE_MAX_HEADER_BYTES", MAX_HEADER_BYTES),
        )
        factory: type[_RecordingFactory] = type("_RecordingFactory", (_RecordingFactory,), {"head_limits": limits})
        self._pool._factory = factory

    async def download_request(self, request: Request) -> Response:
        agent = _RecordingAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=self._default_maxsize,
            warnsize=self._default_warnsize,
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
        )
        try:
            with wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except DownloadFailedError as exc:
            refused = _refusal(exc.__cause__)
            if refused is not None:
                raise refused from None
            raise
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise
