import nock from 'nock';

// No test may reach the network; loopback stays open for the scripted model server.
nock.disableNetConnect();
nock.enableNetConnect(/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/);
