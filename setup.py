from setuptools import setup

setup(cffi_modules=["steno/native/build.py:ffibuilder"])
