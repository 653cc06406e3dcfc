"""The SQS queue S3 arrival events reach through EventBridge (terraform/modules/arrivals).

The sensor receives a bounded batch each tick and deletes it on the next tick, after the
tick that recorded the batch's days has been committed. A message not deleted in time comes
back after the visibility timeout; the sensor's decisions are idempotent, so that is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipeline_project.storage.base import StorageError

BATCH = 10  # SQS's largest receive and delete batch


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    receipt_handle: str
    body: str


class ArrivalsQueue:
    def __init__(self, url: str, visibility_seconds: int, client=None):
        self.url = url
        self.visibility_seconds = visibility_seconds
        self._client = client or boto3.client("sqs", config=Config(retries={"max_attempts": 5, "mode": "standard"}))

    def _fail(self, action: str, exc: Exception) -> StorageError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            return StorageError(f"cannot {action} {self.url}: {error.get('Code', 'error')}: {error.get('Message', '')}")
        return StorageError(f"cannot {action} {self.url}: {exc}")

    def receive(self, limit: int) -> list[QueueMessage]:
        """Up to `limit` messages, hidden from other consumers for the visibility timeout."""
        messages: list[QueueMessage] = []
        while len(messages) < limit:
            try:
                answer = self._client.receive_message(
                    QueueUrl=self.url,
                    MaxNumberOfMessages=min(BATCH, limit - len(messages)),
                    VisibilityTimeout=self.visibility_seconds,
                    # The first call long-polls for a second: it asks every SQS server, so an empty
                    # answer means an empty queue, and it returns as soon as a message is there.
                    # Later calls only take what is ready: no tick waits for messages to come.
                    WaitTimeSeconds=0 if messages else 1,
                )
            except (BotoCoreError, ClientError) as exc:
                if messages:  # keep what was received: it is acknowledged with the tick
                    break
                raise self._fail("receive from", exc) from exc
            batch = answer.get("Messages", [])
            if not batch:
                break
            messages += [QueueMessage(m["MessageId"], m["ReceiptHandle"], m["Body"]) for m in batch]
        return messages

    def delete(self, receipt_handles: Sequence[str]) -> list[str]:
        """Deletes the messages; returns a line per message SQS could not delete (they come back)."""
        problems: list[str] = []
        for start in range(0, len(receipt_handles), BATCH):
            chunk = receipt_handles[start : start + BATCH]
            entries = [{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(chunk)]
            try:
                answer = self._client.delete_message_batch(QueueUrl=self.url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                problems.append(str(self._fail("delete from", exc)))
                continue
            problems += [f"{f.get('Code')}: {f.get('Message', '')}" for f in answer.get("Failed", [])]
        return problems
