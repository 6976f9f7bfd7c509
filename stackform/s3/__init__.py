"""S3 access shared by everything stackform keeps in a bucket: state, run state, deployed files.

``settings`` parses and checks the bucket settings without importing boto3; ``client`` wraps
boto3 (imported only here, only when S3 is used) and turns its failures into errors a user can
act on; ``objectlock`` is the lock object created with ``IfNoneMatch='*'`` that both the state
lock and the run lock use.
"""
