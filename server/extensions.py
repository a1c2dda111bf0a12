"""Flask extension objects, created unbound and attached in create_app."""

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from server.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
