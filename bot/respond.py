"""Answers through Slack's response_url over one pooled HTTP session per process.

Bolt's `respond()` makes a new aiohttp session, so a new connection (with TLS to Slack) for every
answer; under a burst of lookups that handshake work competes with the acks. `PooledRespond` is a
drop-in `AsyncRespond` whose webhook client shares `ResponseUrls.session`; the `inject_deps`
middleware puts it in the context in place of Bolt's.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

TIMEOUT_SECONDS = 30  # slack_sdk's own default for webhook posts


class ResponseUrls:
    """The process's session for response_url posts: made on first use (inside the serving event
    loop), closed by `close_deps`."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class PooledRespond(AsyncRespond):
    """`respond()` as Bolt offers it (same arguments, same message), over the shared session."""

    def __init__(self, *, response_url: str | None, urls: ResponseUrls,
                 proxy: str | None = None, ssl: Any = None) -> None:
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self._urls = urls

    async def __call__(self, text: str | dict[str, Any] = "",
                       blocks: Any = None, attachments: Any = None,
                       response_type: str | None = None, replace_original: bool | None = None,
                       delete_original: bool | None = None, unfurl_links: bool | None = None,
                       unfurl_media: bool | None = None, thread_ts: str | None = None,
                       metadata: dict[str, Any] | None = None) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        client = AsyncWebhookClient(url=self.response_url, session=self._urls.session,
                                    proxy=self.proxy, ssl=self.ssl)
        if isinstance(text, dict):
            return await client.send_dict(_build_message(**text))
        return await client.send_dict(_build_message(
            text=text, blocks=blocks, attachments=attachments, response_type=response_type,
            replace_original=replace_original, delete_original=delete_original,
            unfurl_links=unfurl_links, unfurl_media=unfurl_media, thread_ts=thread_ts,
            metadata=metadata))
