"""A Python listener hears what changed, may read the store from its callback, and falls
silent once its subscription is stopped or dropped."""

import timebank_mobile as tb

from conftest import visit_of_an_hour


class Recorder(tb.ChangeListener):
    def __init__(self, store=None):
        self.topics = []
        self.store = store
        self.visits_seen = []

    def on_change(self, topic):
        self.topics.append(topic)
        if self.store is not None:
            self.visits_seen.append(len(self.store.visits()))


def test_a_listener_fires_on_each_write_and_stops_with_its_subscription(volunteer_offline):
    recorder = Recorder(volunteer_offline)
    subscription = volunteer_offline.subscribe(recorder)
    visit_of_an_hour(volunteer_offline, "e-2001")
    assert recorder.topics == [tb.Topic.VISITS, tb.Topic.VISITS]
    assert recorder.visits_seen == [1, 1]
    volunteer_offline.gift("e-2001", 60)
    assert recorder.topics[-1] == tb.Topic.REQUESTS
    subscription.stop()
    visit_of_an_hour(volunteer_offline, "e-2002")
    assert len(recorder.topics) == 3


def test_dropping_the_subscription_stops_the_listener(volunteer_offline):
    recorder = Recorder()
    subscription = volunteer_offline.subscribe(recorder)
    volunteer_offline.gift("e-2001", 60)
    assert recorder.topics == [tb.Topic.REQUESTS]
    del subscription
    volunteer_offline.gift("e-2001", 60)
    assert recorder.topics == [tb.Topic.REQUESTS]
