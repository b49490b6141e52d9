import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
os.environ.setdefault("RUNBOARD_WEB_PROCESS", "1")  # queries get the request deadline as a statement timeout
application = get_wsgi_application()
